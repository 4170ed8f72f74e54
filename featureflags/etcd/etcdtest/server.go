package etcdtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sshpool/sshpool/internal/testenv"
)

// Server is a running private etcd. Its methods are safe for concurrent
// use.
type Server struct {
	opts       *options
	dir        string
	clientPort int
	peerPort   int
	tlsFiles   *TLSFiles   // nil without WithTLS
	tlsConfig  *tls.Config // client side; nil without WithTLS
	log        *os.File    // etcd's stderr, appended across restarts

	// mu guards proc, closed and rootPassword, and serializes Stop,
	// Restart and Close.
	mu           sync.Mutex
	proc         *process // nil while stopped
	closed       bool
	rootPassword string // set by EnableAuth
}

// Start starts a private etcd for the test and stops it, and removes its
// files, in tb.Cleanup; when the test has failed by then, etcd's log is
// logged first. When etcd is not installed Start skips the test, or fails
// it when the environment variable CI is "true".
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := New(opts...)
	switch {
	case errors.Is(err, ErrNotInstalled):
		testenv.Missing(tb, notInstalledMsg)
	case err != nil:
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("etcd %s log:\n%s", s.Endpoint(), s.Logs())
		}
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// New starts a private etcd, as Start does, for programs that are not
// tests. The caller must call Close. It returns ErrNotInstalled when the
// binary is missing.
func New(opts ...Option) (*Server, error) {
	o := newOptions(opts)
	if _, err := os.Stat(o.binary); err != nil {
		return nil, fmt.Errorf("%w (%s: %v)", ErrNotInstalled, o.binary, err)
	}
	s := &Server{opts: o}
	if err := s.init(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// init creates the directory, certificates and log, and starts etcd on
// free ports, trying others when one was taken meanwhile.
func (s *Server) init() error {
	var err error
	if s.dir, err = os.MkdirTemp("", "etcdtest-"); err != nil {
		return fmt.Errorf("etcdtest: %w", err)
	}
	if s.opts.tls {
		if s.tlsFiles, err = writeTLSFiles(s.dir); err != nil {
			return err
		}
		if s.tlsConfig, err = s.tlsFiles.clientTLS(); err != nil {
			return err
		}
	}
	s.log, err = os.OpenFile(filepath.Join(s.dir, "etcd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("etcdtest: %w", err)
	}
	for attempt := 0; ; attempt++ {
		if s.clientPort, s.peerPort, err = freePorts(); err != nil {
			return err
		}
		s.proc, err = s.launch()
		if err == nil {
			return nil
		}
		if !errors.Is(err, errBind) || attempt == 4 {
			return err
		}
		os.RemoveAll(s.dataDir()) // a fresh cluster on the next ports
	}
}

// freePorts returns two loopback ports that were free a moment ago.
func freePorts() (int, int, error) {
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("etcdtest: free port: %w", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

// Stop SIGKILLs etcd, as a crash would, and returns once it has died:
// clients' connections reset and their requests fail or wait. The data
// directory stays; Restart starts etcd again on it. Stopping a stopped
// server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.stopLocked()
	return nil
}

// stopLocked kills the process, if any. s.mu must be held.
func (s *Server) stopLocked() {
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
}

// Restart stops etcd as Stop does, when it is running, and starts it again
// on the same ports with the same data directory: keys and revisions
// survive. It retries for a few seconds while a port is taken.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.stopLocked()
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if s.proc, err = s.launch(); !errors.Is(err, errBind) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Running reports whether etcd is running (not stopped).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// Close stops etcd and removes the server's directory. It is idempotent;
// after Close, Logs returns "".
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.stopLocked()
	var errs []error
	if s.log != nil {
		errs = append(errs, s.log.Close())
	}
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("etcdtest: %w", err)
	}
	return nil
}

// Endpoint returns the client URL, "http://127.0.0.1:port" (https with
// WithTLS). It stays the same across Restart.
func (s *Server) Endpoint() string {
	scheme := "http"
	if s.opts.tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))
}

// Endpoints returns []string{Endpoint()}, as clientv3.Config wants it.
func (s *Server) Endpoints() []string { return []string{s.Endpoint()} }

// Dir returns the server's temporary directory (data, log, certificates).
func (s *Server) Dir() string { return s.dir }

// TLSFiles returns the certificate files of a server started WithTLS, else
// nil.
func (s *Server) TLSFiles() *TLSFiles { return s.tlsFiles }

// TLSConfig returns a client TLS config that trusts the server's CA and
// presents the client certificate, for a server started WithTLS; else nil.
// Each call returns a new config.
func (s *Server) TLSConfig() *tls.Config {
	if s.tlsConfig == nil {
		return nil
	}
	return s.tlsConfig.Clone()
}

// ClientConfig returns a client config for the server: its endpoint, TLS
// when started WithTLS, root's credentials once EnableAuth has run, a 5 s
// dial timeout and no logging.
func (s *Server) ClientConfig() clientv3.Config {
	s.mu.Lock()
	pw := s.rootPassword
	s.mu.Unlock()
	c := clientv3.Config{
		Endpoints:   s.Endpoints(),
		TLS:         s.TLSConfig(),
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	}
	if pw != "" {
		c.Username, c.Password = "root", pw
	}
	return c
}

// Client returns a client of the server (ClientConfig), closed in
// tb.Cleanup.
func (s *Server) Client(tb testing.TB) *clientv3.Client {
	tb.Helper()
	c, err := clientv3.New(s.ClientConfig())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// EnableAuth turns etcd's authentication on: it creates the user root,
// with the role root and a random password, and enables auth. It returns
// the password; ClientConfig uses it from then on. Users and roles for a
// test are added with a root client (clientv3's UserAdd, RoleAdd,
// RoleGrantPermission, UserGrantRole).
func (s *Server) EnableAuth(ctx context.Context) (string, error) {
	var b [12]byte
	rand.Read(b[:])
	pw := hex.EncodeToString(b[:])
	c, err := clientv3.New(s.ClientConfig())
	if err != nil {
		return "", fmt.Errorf("etcdtest: %w", err)
	}
	defer c.Close()
	steps := []func() error{
		func() error { _, err := c.RoleAdd(ctx, "root"); return err },
		func() error { _, err := c.UserAdd(ctx, "root", pw); return err },
		func() error { _, err := c.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := c.AuthEnable(ctx); return err },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return "", fmt.Errorf("etcdtest: enable auth: %w", err)
		}
	}
	s.mu.Lock()
	s.rootPassword = pw
	s.mu.Unlock()
	return pw, nil
}

// Logs returns what etcd has written to its log so far (warnings and
// errors), across restarts.
func (s *Server) Logs() string {
	f, err := os.Open(filepath.Join(s.dir, "etcd.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(data)
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
