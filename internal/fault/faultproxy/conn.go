package faultproxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
)

// dialTimeout bounds the dial to the upstream for each accepted connection.
const dialTimeout = 5 * time.Second

// acceptBackoff is the pause after a non-fatal Accept error (such as EMFILE).
const acceptBackoff = 10 * time.Millisecond

// serveLocked makes ln the listener and starts its accept loop; p.mu must
// be held.
//
// The proxy accepts and dials itself and hands each pair of connections to
// toxiproxy's ToxicCollection.StartLink, instead of running toxiproxy's own
// Proxy.Start loop, for one reason: toxiproxy v2.5.0's link writer returns
// as soon as a write to its destination fails and nobody drains the link
// any more, so its toxic goroutines and reader block on channel sends
// forever (a leak whenever a peer goes away while data is in flight, which
// is what fault tests do). Giving StartLink a sink that never fails keeps
// every link draining until its source ends.
func (p *Proxy) serveLocked(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
}

// accept accepts connections on ln until it is closed.
func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			time.Sleep(acceptBackoff)
			continue
		}
		p.connect(ln, c.(*net.TCPConn))
	}
}

// connect dials the upstream for client and starts a toxiproxy link each
// way. As in toxiproxy, a client whose upstream cannot be dialled is closed.
func (p *Proxy) connect(ln net.Listener, client *net.TCPConn) {
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(p.ctx, "tcp", p.Upstream())
	if err != nil {
		client.Close()
		return
	}
	c := &pair{client: client, server: nc.(*net.TCPConn), p: p}
	if !p.register(ln, c) {
		c.close()
		return
	}
	name := client.RemoteAddr().String()
	p.tp.Toxics.StartLink(p.srv, name+"upstream", client, &sink{conn: c.server, pair: c}, stream.Upstream)
	p.tp.Toxics.StartLink(p.srv, name+"downstream", c.server, &sink{conn: client, pair: c}, stream.Downstream)
}

// register records c unless ln is no longer the proxy's listener (the
// proxy was disabled or closed during the dial). It counts c's two link
// writers in p.wg.
func (p *Proxy) register(ln net.Listener, c *pair) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		return false
	}
	if p.resets.Load() > 0 {
		c.setLinger(0)
	}
	p.conns[c] = struct{}{}
	c.open = 2
	p.wg.Add(2)
	return true
}

// unregister forgets c.
func (p *Proxy) unregister(c *pair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// setLingerAll sets SO_LINGER on every connection.
func (p *Proxy) setLingerAll(sec int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.setLinger(sec)
	}
}

// pair is one proxied connection: the accepted client side and the dialled
// server side.
type pair struct {
	client, server *net.TCPConn
	p              *Proxy

	// forgotten makes the next data either way reset the pair
	// (ForgetConnections).
	forgotten atomic.Bool

	// mu guards open, the number of link writers still running.
	mu   sync.Mutex
	open int
}

// reset closes both sides with SO_LINGER 0, so each peer gets a TCP RST.
func (c *pair) reset() {
	c.setLinger(0)
	c.close()
}

// close closes both sides.
func (c *pair) close() {
	c.client.Close()
	c.server.Close()
}

// setLinger sets SO_LINGER on both sides: 0 makes Close send a RST, -1
// restores the default orderly close.
func (c *pair) setLinger(sec int) {
	c.client.SetLinger(sec)
	c.server.SetLinger(sec)
}

// writerDone records that one of c's link writers has finished.
func (c *pair) writerDone() {
	c.mu.Lock()
	c.open--
	last := c.open == 0
	c.mu.Unlock()
	if last {
		c.p.unregister(c)
	}
	c.p.wg.Done()
}

// sink is a link's destination. Once a write fails it discards the rest,
// reporting success, so toxiproxy's writer keeps draining its link until
// the link's source ends; Close, the writer's last step, closes conn.
type sink struct {
	conn   *net.TCPConn
	pair   *pair
	failed bool // only the link's writer goroutine uses the sink
	once   sync.Once
}

// Write writes b to the connection, or discards it after a failure.
func (s *sink) Write(b []byte) (int, error) {
	if s.failed {
		return len(b), nil
	}
	if s.pair.forgotten.Load() {
		s.failed = true
		s.pair.reset()
		return len(b), nil
	}
	if _, err := s.conn.Write(b); err != nil {
		// The peer is gone: close so that the link reading from this
		// connection ends too and the cascade closes the other side.
		s.failed = true
		s.conn.Close()
	}
	return len(b), nil
}

// Close closes the connection and reports the writer done.
func (s *sink) Close() error {
	err := s.conn.Close()
	s.once.Do(s.pair.writerDone)
	return err
}
