package sshtest

import (
	"net"
	"sync"
	"time"
)

// relistenWait bounds how long RefuseNew(false) and Restart retry while the
// port is momentarily busy.
const relistenWait = 2 * time.Second

// SetMaxSessions sets the per-connection limit on concurrently open session
// channels, like sshd's MaxSessions; 0 means unlimited. Opens beyond the
// limit are rejected with ssh.Prohibited and the message "administratively
// prohibited: open failed". A slot is freed when its channel has closed on
// both sides. The new limit applies to the next channel open on every
// connection; open sessions are not closed.
func (s *Server) SetMaxSessions(n int) { s.maxSessions.Store(int64(n)) }

// SetHandshakeDelay makes connections accepted from now on wait d before the
// SSH handshake starts; 0 removes the delay.
func (s *Server) SetHandshakeDelay(d time.Duration) { s.handshakeDelay.Store(int64(d)) }

// FailAuth makes every authentication attempt fail (fail true) or restores
// normal authentication (fail false). Established connections are not
// affected.
func (s *Server) FailAuth(fail bool) { s.failAuth.Store(fail) }

// Stall makes every connection, open or new, stop reading and writing, as a
// half-open peer would: TCP connections stay open, but data that arrives is
// held and nothing is answered until Unstall. New TCP connections are still
// accepted, and their handshakes stall too.
func (s *Server) Stall() { s.gate.stall() }

// Unstall ends a Stall; held data is then processed normally.
func (s *Server) Unstall() { s.gate.unstall() }

// DropAll closes every open connection abruptly (a TCP close without any SSH
// disconnect message) and waits until their handlers have returned. The
// listener keeps accepting. DropAll must not be called from a Handler.
func (s *Server) DropAll() { s.closeConns() }

// RefuseNew(true) closes the listener, so that new connections fail with
// "connection refused" (ECONNREFUSED) while open connections continue.
// RefuseNew(false) listens again on the same port, retrying for up to 2
// seconds if the port is momentarily busy. It returns ErrServerClosed after
// Close.
func (s *Server) RefuseNew(refuse bool) error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if refuse {
		s.closeListenerLocked()
		return nil
	}
	return s.relistenLocked()
}

// Restart closes the listener and every connection, as a restarting sshd
// would, then listens again on the same port with the same host key,
// retrying for up to 2 seconds if the port is momentarily busy. It clears
// RefuseNew but keeps the other fault settings. It returns ErrServerClosed
// after Close. Restart must not be called from a Handler.
func (s *Server) Restart() error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	s.closeListenerLocked()
	s.closeConns()
	return s.relistenLocked()
}

// relistenLocked listens on the server's address unless already listening;
// s.lnMu must be held.
func (s *Server) relistenLocked() error {
	if s.isClosed() {
		return ErrServerClosed
	}
	if s.ln != nil {
		return nil
	}
	ln, err := listen(s.addr, relistenWait)
	if err != nil {
		return err
	}
	s.serveLocked(ln)
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// gate blocks connection I/O while the server is stalled.
type gate struct {
	mu   sync.Mutex    // guards open
	open chan struct{} // closed while I/O may proceed; a new, open channel while stalled
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) stall() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default: // already stalled
	}
}

func (g *gate) unstall() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open: // not stalled
	default:
		close(g.open)
	}
}

// wait blocks while the gate is stalled; it reports false if closed is
// closed first.
func (g *gate) wait(closed <-chan struct{}) bool {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
		return true
	case <-closed:
		return false
	}
}

// stallConn is a net.Conn whose reads and writes block while its gate is
// stalled, and unblock with net.ErrClosed when it is closed.
type stallConn struct {
	net.Conn
	gate      *gate
	closeOnce sync.Once
	closed    chan struct{} // closed by Close
}

func newStallConn(c net.Conn, g *gate) *stallConn {
	return &stallConn{Conn: c, gate: g, closed: make(chan struct{})}
}

// Read waits for the gate both before and after reading, so that data
// arriving during a stall is held even if the read was already blocked when
// Stall was called.
func (c *stallConn) Read(p []byte) (int, error) {
	if !c.gate.wait(c.closed) {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(p)
	if !c.gate.wait(c.closed) {
		return 0, net.ErrClosed
	}
	return n, err
}

// Write waits for the gate, then writes.
func (c *stallConn) Write(p []byte) (int, error) {
	if !c.gate.wait(c.closed) {
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

// Close unblocks waiting reads and writes and closes the connection.
func (c *stallConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.Conn.Close()
	})
	return err
}
