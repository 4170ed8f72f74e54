package faultproxy

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// drainTimeout bounds how long Close waits for toxiproxy's per-connection
// goroutines after closing the connections; they normally end at once.
const drainTimeout = 10 * time.Second

// Proxy is a running TCP fault proxy. Create it with Start or New; all
// methods are safe for concurrent use.
type Proxy struct {
	tp   *toxiproxy.Proxy
	addr string // "127.0.0.1:port", fixed by the first listen
	seq  atomic.Int64

	// mu serializes Enable, Disable, CutConnections, SetUpstream and Close
	// and guards closed. toxiproxy's own locks are taken under it, never
	// the other way round.
	mu     sync.Mutex
	closed bool
}

// Start starts a proxy on 127.0.0.1:0 that forwards to upstream and
// registers its Close with tb.Cleanup. It calls tb.Fatal if the proxy
// cannot start and tb.Error if Close finds goroutines that do not end.
func Start(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	p, err := New(upstream)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Error(err)
		}
	})
	return p
}

// New starts a proxy on 127.0.0.1:0 that forwards to upstream (host:port).
// Upstream is dialled once per accepted connection, not here. The caller
// must call Close.
func New(upstream string) (*Proxy, error) {
	// A private ApiServer per proxy: no-op logger, metrics off on a
	// private registry. Its HTTP API is never started.
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	tp := toxiproxy.NewProxy(srv, "faultproxy", "127.0.0.1:0", upstream)
	if err := tp.Start(); err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	tp.Lock()
	addr := tp.Listen // rewritten to the bound address by Start
	tp.Unlock()
	return &Proxy{tp: tp, addr: addr}, nil
}

// Addr returns the proxy's address, "127.0.0.1:port". It stays the same
// across Disable and Enable.
func (p *Proxy) Addr() string { return p.addr }

// Upstream returns the address the proxy forwards to.
func (p *Proxy) Upstream() string {
	p.tp.Lock()
	defer p.tp.Unlock()
	return p.tp.Upstream
}

// SetUpstream makes the proxy forward new connections to addr. Like
// toxiproxy's Update, it closes the existing connections and, if the proxy
// is enabled, re-listens on the same address (a dial in between is
// refused). Faults stay in place.
func (p *Proxy) SetUpstream(addr string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.tp.Lock()
	cur := toxiproxy.Proxy{Listen: p.addr, Upstream: addr, Enabled: p.tp.Enabled}
	p.tp.Unlock()
	if err := p.tp.Update(&cur); err != nil {
		return fmt.Errorf("faultproxy: set upstream %s: %w", addr, err)
	}
	return nil
}

// Enabled reports whether the proxy is accepting connections.
func (p *Proxy) Enabled() bool {
	p.tp.Lock()
	defer p.tp.Unlock()
	return p.tp.Enabled
}

// Disable takes the proxy down: it stops listening, so new dials are
// refused (ECONNREFUSED), and closes every proxied connection on both
// sides (the peers see EOF). Faults stay in place. Disabling a disabled
// proxy does nothing.
func (p *Proxy) Disable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.tp.Stop()
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
	return p.enableLocked()
}

// enableLocked starts the proxy unless it is running; p.mu must be held.
func (p *Proxy) enableLocked() error {
	err := p.tp.Start()
	if err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return fmt.Errorf("faultproxy: listen %s: %w", p.addr, err)
	}
	return nil
}

// CutConnections closes every proxied connection on both sides and keeps
// (or, if disabled, leaves) the proxy as it was. It is Disable followed by
// Enable, so a dial racing with it may be refused.
func (p *Proxy) CutConnections() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if !p.Enabled() {
		return nil
	}
	p.tp.Stop()
	return p.enableLocked()
}

// Heal removes every fault and enables the proxy. Connections that a fault
// already broke stay broken; new ones work.
func (p *Proxy) Heal() error {
	p.RemoveAll()
	return p.Enable()
}

// Close stops the proxy, closes every connection and waits until
// toxiproxy has let go of them. It is idempotent; later calls return nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.tp.Stop()
	return p.waitLinks(drainTimeout)
}

// waitLinks waits until toxiproxy's ToxicCollection has no links left.
//
// toxiproxy's Stop closes every connection but does not wait for the
// goroutines that copy data; each link's writer unregisters the link as its
// last step. The registry (ToxicCollection.links) is unexported, so its
// length is read with reflect under the collection's own lock.
func (p *Proxy) waitLinks(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for n := p.links(); n > 0; n = p.links() {
		if time.Now().After(deadline) {
			return fmt.Errorf("faultproxy: %d connection links still running after %v", n, timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// links returns the number of live toxiproxy links (two per connection).
func (p *Proxy) links() int {
	p.tp.Toxics.Lock()
	defer p.tp.Toxics.Unlock()
	return reflect.ValueOf(p.tp.Toxics).Elem().FieldByName("links").Len()
}
