package faultproxy

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxy is a running TCP fault proxy. Create it with Start or New; all
// methods are safe for concurrent use.
type Proxy struct {
	srv  *toxiproxy.ApiServer // metrics and logger for toxiproxy's links
	tp   *toxiproxy.Proxy     // owns the ToxicCollection; never started
	addr string               // "127.0.0.1:port", fixed by the first listen
	seq  atomic.Int64         // toxic name suffixes

	// faultMu serializes adding and removing faults, so that resets and
	// stalls match the toxics in place. Lock order: faultMu before mu.
	faultMu sync.Mutex

	// resets counts ResetPeer faults in place; while it is positive, new
	// connections get SO_LINGER 0.
	resets atomic.Int64
	// stalls counts Stall faults in place; removing one closes every
	// connection.
	stalls atomic.Int64

	// mu guards ln, upstream, conns and closed. It is held while the
	// listener is opened or closed and while connections are closed, never
	// during a dial. Lock order: mu before toxiproxy's locks.
	mu       sync.Mutex
	ln       net.Listener // nil while disabled or closed
	upstream string
	conns    map[*pair]struct{}
	closed   bool

	stop context.CancelFunc // cancels dials in progress, at Close
	ctx  context.Context    // done at Close
	wg   sync.WaitGroup     // accept loops and link writers
}

// closeWait bounds how long Start's cleanup waits for Close.
const closeWait = 30 * time.Second

// Start starts a proxy on 127.0.0.1:0 that forwards to upstream and
// registers its Close with tb.Cleanup. It calls tb.Fatal if the proxy
// cannot start. If Close has not returned within 30 s (some goroutine of
// the proxy or of toxiproxy is stuck), the cleanup fails the test with the
// stacks of every goroutine instead of hanging it.
func Start(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	p, err := New(upstream)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		done := make(chan struct{})
		go func() {
			p.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(closeWait):
			buf := make([]byte, 1<<20)
			tb.Errorf("faultproxy: Close still waiting after %v; goroutines:\n%s", closeWait, buf[:runtime.Stack(buf, true)])
		}
	})
	return p
}

// New starts a proxy on 127.0.0.1:0 that forwards to upstream (host:port).
// Upstream is dialled once per accepted connection, not here. The caller
// must call Close.
func New(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	// A private ApiServer per proxy: no-op logger, metrics off on a
	// private registry. Its HTTP API is never started.
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := &Proxy{srv: srv, addr: ln.Addr().String(), upstream: upstream,
		conns: map[*pair]struct{}{}}
	p.ctx, p.stop = context.WithCancel(context.Background())
	p.tp = toxiproxy.NewProxy(srv, "faultproxy", p.addr, upstream)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serveLocked(ln)
	return p, nil
}

// Addr returns the proxy's address, "127.0.0.1:port". It stays the same
// across Disable and Enable.
func (p *Proxy) Addr() string { return p.addr }

// Upstream returns the address the proxy forwards new connections to.
func (p *Proxy) Upstream() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upstream
}

// SetUpstream makes the proxy forward new connections to addr. Existing
// connections and faults stay as they are.
func (p *Proxy) SetUpstream(addr string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.upstream = addr
	return nil
}

// Enabled reports whether the proxy is accepting connections.
func (p *Proxy) Enabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ln != nil
}

// Disable takes the proxy down: it stops listening, so new dials are
// refused (ECONNREFUSED), and closes every proxied connection on both
// sides. Faults stay in place. Disabling a disabled proxy does nothing.
func (p *Proxy) Disable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.stopLocked()
	return nil
}

// Enable brings a disabled proxy back on the same address. Enabling an
// enabled proxy does nothing. It fails if the port was taken meanwhile.
func (p *Proxy) Enable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listen %s: %w", p.addr, err)
	}
	p.serveLocked(ln)
	return nil
}

// CutConnections closes every proxied connection on both sides; the proxy
// keeps listening, so new dials work at once.
func (p *Proxy) CutConnections() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.closeConnsLocked()
	return nil
}

// Heal removes every fault and enables the proxy. Connections that a fault
// already broke stay broken; new ones work.
func (p *Proxy) Heal() error {
	p.RemoveAll()
	return p.Enable()
}

// Close stops the proxy, closes every connection and waits until every
// goroutine it and toxiproxy started for them has ended. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.stop()
		p.stopLocked()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// stopLocked closes the listener and every connection; p.mu must be held.
func (p *Proxy) stopLocked() {
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.closeConnsLocked()
}

// closeConnsLocked closes both sides of every connection; p.mu must be
// held. toxiproxy's links then see their sources fail and wind down.
func (p *Proxy) closeConnsLocked() {
	for c := range p.conns {
		c.close()
	}
}
