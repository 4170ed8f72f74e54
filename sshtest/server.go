package sshtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// acceptBackoff is the pause after a non-fatal Accept error (such as EMFILE).
const acceptBackoff = 10 * time.Millisecond

// Server is an in-process SSH server. Create it with Start or NewServer; all
// methods are safe for concurrent use.
type Server struct {
	cfg      *config
	keys     keys
	sshCfg   *ssh.ServerConfig
	addr     string // "127.0.0.1:port", fixed by the first listen
	host     string
	port     int
	gate     *gate
	counters counters

	maxSessions    atomic.Int64
	handshakeDelay atomic.Int64 // nanoseconds
	failAuth       atomic.Bool

	// lnMu serializes changes of the listener (RefuseNew, Restart, Close)
	// and guards ln. It is held across Listen and the closing of
	// connections. Lock order: lnMu before mu.
	lnMu   sync.Mutex
	ln     net.Listener  // nil while refusing or closed
	lnDone chan struct{} // closed when ln's accept loop has returned

	// mu guards conns and closed.
	mu     sync.Mutex
	conns  map[*serverConn]struct{}
	closed bool

	closeOnce sync.Once
	done      chan struct{}  // closed by Close
	wg        sync.WaitGroup // every goroutine the server starts
}

// Start starts a server configured by opts on 127.0.0.1:0 (or WithAddr) and
// returns it once it is listening. The caller must call Close.
func Start(opts ...Option) (*Server, error) {
	cfg := newConfig(opts)
	k, err := newKeys(cfg.hostKey)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, keys: k, gate: newGate(), done: make(chan struct{}),
		conns: map[*serverConn]struct{}{}}
	s.maxSessions.Store(int64(cfg.maxSessions))
	s.handshakeDelay.Store(int64(cfg.handshakeDelay))
	s.sshCfg = s.newSSHConfig()
	ln, err := listen(cfg.addr, 0)
	if err != nil {
		return nil, fmt.Errorf("sshtest: listen %s: %w", cfg.addr, err)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	s.host, s.port = tcp.IP.String(), tcp.Port
	s.addr = net.JoinHostPort(s.host, strconv.Itoa(s.port))
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	s.serveLocked(ln)
	return s, nil
}

// NewServer starts a server configured by opts and registers its Close with
// tb.Cleanup. It calls tb.Fatal if the server cannot start.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := Start(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Host returns the host part of Addr, "127.0.0.1" by default.
func (s *Server) Host() string { return s.host }

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Close stops the listener, closes every connection and waits for every
// goroutine the server started, including running handlers. It is
// idempotent and always returns nil.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.lnMu.Lock()
		defer s.lnMu.Unlock()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
		s.closeListenerLocked()
		s.closeConns()
	})
	s.wg.Wait()
	return nil
}

// listen listens on addr, retrying for up to wait while the port is busy.
func listen(addr string, wait time.Duration) (net.Listener, error) {
	deadline := time.Now().Add(wait)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveLocked installs ln and starts its accept loop; s.lnMu must be held.
// It closes ln if the server is closed.
func (s *Server) serveLocked(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		ln.Close()
		return
	}
	done := make(chan struct{})
	s.ln, s.lnDone = ln, done
	s.wg.Go(func() {
		defer close(done)
		s.acceptLoop(ln)
	})
}

// closeListenerLocked closes the listener, if any, and waits for its accept
// loop to return, so that no connection is accepted afterwards; s.lnMu must
// be held.
func (s *Server) closeListenerLocked() {
	if s.ln != nil {
		s.ln.Close()
		<-s.lnDone
		s.ln, s.lnDone = nil, nil
	}
}

func (s *Server) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.cfg.logger.Debug("sshtest: accept", "err", err)
			select {
			case <-time.After(acceptBackoff):
				continue
			case <-s.done:
				return
			}
		}
		s.counters.connsAccepted.Add(1)
		s.track(c)
	}
}

// track registers a new connection and starts serving it, or closes it if the
// server is closed.
func (s *Server) track(c net.Conn) {
	sc := newServerConn(s, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return
	}
	s.conns[sc] = struct{}{}
	s.counters.connsOpen.Add(1)
	s.wg.Go(func() {
		defer s.untrack(sc)
		sc.serve()
	})
}

func (s *Server) untrack(sc *serverConn) {
	s.mu.Lock()
	delete(s.conns, sc)
	s.mu.Unlock()
	s.counters.connsOpen.Add(-1)
	close(sc.finished)
}

// closeConns closes every open connection and waits until each has
// finished serving (its handlers have returned).
func (s *Server) closeConns() {
	s.mu.Lock()
	open := make([]*serverConn, 0, len(s.conns))
	for sc := range s.conns {
		open = append(open, sc)
	}
	s.mu.Unlock()
	for _, sc := range open {
		sc.raw.Close()
	}
	for _, sc := range open {
		<-sc.finished
	}
}

// serverConn is one accepted TCP connection.
type serverConn struct {
	srv      *Server
	raw      *stallConn
	sessions atomic.Int64   // open session channels, for the session limit
	wg       sync.WaitGroup // goroutines serving this connection's requests and channels
	finished chan struct{}  // closed when serve has returned and the conn is untracked
}

func newServerConn(s *Server, c net.Conn) *serverConn {
	return &serverConn{srv: s, raw: newStallConn(c, s.gate), finished: make(chan struct{})}
}

// serve runs the handshake and then serves the connection until it closes.
func (c *serverConn) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer c.raw.Close()
	if !c.waitHandshakeDelay() {
		return
	}
	conn, chans, reqs, err := ssh.NewServerConn(c.raw, c.srv.sshCfg)
	if err != nil {
		c.srv.cfg.logger.Debug("sshtest: handshake", "remote", c.raw.RemoteAddr(), "err", err)
		return
	}
	c.wg.Go(func() { c.serveGlobalRequests(reqs) })
	for nc := range chans {
		c.wg.Go(func() { c.serveChannel(ctx, conn, nc) })
	}
	cancel()
	conn.Close()
	c.wg.Wait()
}

// waitHandshakeDelay sleeps for the configured handshake delay; it reports
// false if the connection or server closed meanwhile.
func (c *serverConn) waitHandshakeDelay() bool {
	d := time.Duration(c.srv.handshakeDelay.Load())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.raw.closed:
		return false
	case <-c.srv.done:
		return false
	}
}

func (c *serverConn) serveGlobalRequests(reqs <-chan *ssh.Request) {
	for req := range reqs {
		if req.Type == "keepalive@openssh.com" {
			c.srv.counters.keepalives.Add(1)
		}
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
}

// serveChannel dispatches a new channel by type.
func (c *serverConn) serveChannel(ctx context.Context, conn *ssh.ServerConn, nc ssh.NewChannel) {
	switch nc.ChannelType() {
	case "session":
		c.serveSession(ctx, conn, nc)
	case "direct-tcpip":
		c.serveDirectTCPIP(ctx, nc)
	default:
		c.reject(nc, ssh.UnknownChannelType, "unknown channel type")
	}
}

func (c *serverConn) reject(nc ssh.NewChannel, reason ssh.RejectionReason, msg string) {
	c.srv.counters.channelsRejected.Add(1)
	nc.Reject(reason, msg)
}

// accept accepts nc and counts it; the returned func records its closing.
func (c *serverConn) accept(nc ssh.NewChannel) (ssh.Channel, <-chan *ssh.Request, func(), error) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return nil, nil, nil, err
	}
	c.srv.counters.channelsOpened.Add(1)
	c.srv.counters.channelsOpen.Add(1)
	return ch, reqs, func() { c.srv.counters.channelsOpen.Add(-1) }, nil
}
