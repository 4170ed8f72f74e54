package sshdtest

import (
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

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/internal/testenv"
)

// Server is a running private sshd. Its methods are safe for concurrent use.
type Server struct {
	opts         *options
	dir          string
	user         string
	password     string
	port         int
	keys         *keys
	hasPenalties bool
	execPath     string   // what is executed: opts.sshdPath, or a PAMService symlink to it
	log          *os.File // sshd's stdout and stderr, appended across restarts

	// mu guards proc, orphans and closed, and serializes Stop, Restart,
	// Kill and Close.
	mu      sync.Mutex
	proc    *process // nil while stopped
	orphans []procID // connection processes left running by Kill
	closed  bool
}

// Start starts a private sshd for the test and stops it, and removes its
// files, in tb.Cleanup; when the test has failed by then, sshd's log is
// logged first. When sshd is not installed Start skips the test, or fails it
// when the environment variable CI is "true". It skips as well when an
// option needs root and the test does not run as root.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := New(opts...)
	switch {
	case errors.Is(err, ErrNotInstalled):
		testenv.Missing(tb, notInstalledMsg)
	case errors.Is(err, ErrNeedsRoot):
		tb.Skip(err)
	case err != nil:
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("sshd %s log:\n%s", s.Addr(), s.Logs())
		}
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// New starts a private sshd, as Start does, for programs that are not
// tests. The caller must call Close. It returns ErrNotInstalled when sshd is
// missing and ErrNeedsRoot when an option needs root.
func New(opts ...Option) (*Server, error) {
	o := newOptions(opts)
	if _, err := os.Stat(o.sshdPath); err != nil {
		return nil, fmt.Errorf("%w (%s: %v)", ErrNotInstalled, o.sshdPath, err)
	}
	s := &Server{opts: o, hasPenalties: hasPerSourcePenalties(o.sshdPath), execPath: o.sshdPath}
	var err error
	if s.user, s.password, err = loginUser(o.password); err != nil {
		return nil, err
	}
	if err := s.init(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// init creates the directory, keys and log, and starts sshd on a free
// port, trying another port when the one picked was taken meanwhile.
func (s *Server) init() error {
	var err error
	if s.dir, err = os.MkdirTemp("", "sshdtest-"); err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	// sshd reads the authorized keys file as the login user.
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	if s.keys, err = newKeys(s.dir, s.user, s.opts); err != nil {
		return err
	}
	if s.opts.kbdPAM {
		if err := ensurePAMService(); err != nil {
			return err
		}
		s.execPath = filepath.Join(s.dir, PAMService)
		if err := os.Symlink(s.opts.sshdPath, s.execPath); err != nil {
			return fmt.Errorf("sshdtest: %w", err)
		}
	}
	s.log, err = os.OpenFile(filepath.Join(s.dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return err
		}
		s.proc, err = s.launch(s.port)
		if err == nil {
			return s.writeKnownHosts()
		}
		if !errors.Is(err, errBind) || attempt == 4 {
			return err
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("sshdtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop SIGKILLs sshd and every process it started, and returns once they
// have died: established connections drop and remote commands end.
// Stopping a stopped server does nothing. Restart starts it again.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.stopLocked()
	return nil
}

// stopLocked stops the listener, its connections and Kill's orphans.
// s.mu must be held.
func (s *Server) stopLocked() {
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
	for _, id := range s.orphans {
		if id.alive() {
			killTree(id.pid, true)
		}
	}
	s.orphans = nil
}

// Restart stops sshd as Stop does, when it is running, and starts it again
// on the same port with the same keys and config. It retries for a few
// seconds while the port is taken.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.stopLocked()
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if s.proc, err = s.launch(s.port); !errors.Is(err, errBind) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill SIGKILLs the sshd listener only, as a crash of the daemon would:
// new connections are refused, established ones keep working until Stop,
// Restart or Close. Killing a stopped server does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.proc != nil {
		s.orphans = append(s.orphans, s.proc.kill()...)
		s.proc = nil
	}
	return nil
}

// Close stops sshd and every process it started, and removes the server's
// directory. It is idempotent; after Close, Logs returns "".
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.stopLocked()
	return s.removeFiles()
}

// removeFiles closes the log and removes the directory.
func (s *Server) removeFiles() error {
	var errs []error
	if s.log != nil {
		errs = append(errs, s.log.Close())
	}
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	return nil
}

// PID returns the process id of the sshd listener, or 0 while it is
// stopped or killed.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Logs returns what sshd has written to stderr so far, across restarts, at
// the configured LogLevel (ERROR by default; see WithLogLevel).
func (s *Server) Logs() string { return s.logsSince(0) }

// logsSince returns the log from byte offset off.
func (s *Server) logsSince(off int64) string {
	f, err := os.Open(filepath.Join(s.dir, logFile))
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(io.NewSectionReader(f, off, 1<<40))
	return string(data)
}

// logSize returns the current length of the log.
func (s *Server) logSize() int64 {
	fi, err := s.log.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Addr returns the address sshd listens on, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host(), strconv.Itoa(s.port)) }

// Host returns "127.0.0.1".
func (s *Server) Host() string { return "127.0.0.1" }

// Port returns the TCP port sshd listens on; it stays the same across
// Restart.
func (s *Server) Port() int { return s.port }

// User returns the user to log in as: TestUser when running as root, else
// the current user.
func (s *Server) User() string { return s.user }

// Password returns the login user's password when WithPasswordAuth is set,
// else "".
func (s *Server) Password() string { return s.password }

// Dir returns the server's temporary directory, which holds the config,
// keys, known_hosts and log.
func (s *Server) Dir() string { return s.dir }

// ConfigPath returns the path of the server's sshd_config.
func (s *Server) ConfigPath() string { return filepath.Join(s.dir, configFile) }

// ClientSigner returns the client key that sshd accepts for User (and for
// root, see WithPermitRootLogin).
func (s *Server) ClientSigner() ssh.Signer { return s.keys.client }

// ClientKeyPath returns the path of the client's private key, an
// unencrypted OpenSSH PEM file of mode 0600 (for ssh -i); the public key is
// next to it with the suffix ".pub".
func (s *Server) ClientKeyPath() string { return filepath.Join(s.dir, clientKeyFile) }

// ClientConfig returns a client config that logs in as User with the client
// key and accepts exactly the host key, with a 10 second timeout. It offers
// only the ssh-ed25519 host key algorithm, so the plain host key is shown
// even when WithHostCA is set.
func (s *Server) ClientConfig() *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              s.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(s.keys.client)},
		HostKeyCallback:   ssh.FixedHostKey(s.keys.hostSigner.PublicKey()),
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           10 * time.Second,
	}
}

// HostPublicKey returns sshd's ed25519 host key.
func (s *Server) HostPublicKey() ssh.PublicKey { return s.keys.hostSigner.PublicKey() }

// HostCAPublicKey returns the host CA's key when WithHostCA is set, else
// nil.
func (s *Server) HostCAPublicKey() ssh.PublicKey {
	if s.keys.hostCA == nil {
		return nil
	}
	return s.keys.hostCA.PublicKey()
}

// UserCA returns the signer of the user CA sshd trusts when WithUserCA is
// set, else nil. Certificates it signs must list the login user among their
// principals.
func (s *Server) UserCA() ssh.Signer { return s.keys.userCA }

// ClientCertSigner returns a signer holding a user certificate for User,
// signed by UserCA, valid from an hour ago for ever, when WithUserCA is set,
// else nil. Its key is not in the authorized keys file: only the
// certificate lets it in.
func (s *Server) ClientCertSigner() ssh.Signer { return s.keys.clientCert }

// KnownHostsLine returns the known_hosts line for the host key,
// "[127.0.0.1]:port ssh-ed25519 AAAA...".
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostPublicKey())
}

// KnownHostsPath returns the path of a known_hosts file holding
// KnownHostsLine and, when WithHostCA is set, a matching @cert-authority
// line for HostCAPublicKey.
func (s *Server) KnownHostsPath() string { return filepath.Join(s.dir, knownHostsFile) }

// writeKnownHosts writes the file of KnownHostsPath.
func (s *Server) writeKnownHosts() error {
	data := s.KnownHostsLine() + "\n"
	if ca := s.HostCAPublicKey(); ca != nil {
		data += "@cert-authority " + knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, ca) + "\n"
	}
	if err := os.WriteFile(s.KnownHostsPath(), []byte(data), 0o644); err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	return nil
}

// OpenSSHConfig returns an ssh_config block for the OpenSSH client (ssh
// -F) that logs in to the server as alias: HostName, Port, User, the
// client key (IdentitiesOnly), KnownHostsPath with strict checking, and
// BatchMode. Tests use it to run ssh against the server, for instance as
// a bastion for ssh -W.
func (s *Server) OpenSSHConfig(alias string) string {
	return fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %q\n  IdentitiesOnly yes\n"+
		"  UserKnownHostsFile %q\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n",
		alias, s.Host(), s.port, s.user, s.ClientKeyPath(), s.KnownHostsPath())
}
