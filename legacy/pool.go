package legacy

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sshpool/sshpool/pool"
)

// ConnectionPool is the old singleton pool: one shared connection per
// (server, user), kept in a map keyed by Key, checked by a health ticker and
// swept when stale. It has no limits and no metrics, by design: it is the
// rollback target and behaves as the old pool did, except that it dials
// through a pool.ConnectionFactory, classifies errors by type, dials
// outside its lock (one dial per key at a time), and waits for its
// goroutines in Stop.
//
// Create one with NewConnectionPool, or use the singleton GetConnectionPool.
// Its loops start on first use or Start and end in Stop.
type ConnectionPool struct {
	factory pool.ConnectionFactory
	cfg     *poolConfig
	dials   singleflight.Group
	stats   poolStats // see Stats; shared with the connections

	// mu guards conns, started and stopped. No I/O happens under it:
	// dials, health checks and closes run outside. Lock order: mu before
	// PooledConnection.mu.
	mu      sync.Mutex
	conns   map[string]*PooledConnection
	started bool
	stopped bool

	ctx    context.Context // canceled by Stop; bounds dials and loops
	cancel context.CancelFunc
	wg     sync.WaitGroup // the health and stale loops

	// singleton is set (before the pool is shared) on the pool that
	// GetConnectionPool returns; only that pool redirects to Current().
	singleton bool
}

// NewConnectionPool returns a pool that dials keys "host:port:id:root|app"
// through factory. It starts no goroutine and does no I/O.
func NewConnectionPool(factory pool.ConnectionFactory, opts ...Option) *ConnectionPool {
	ctx, cancel := context.WithCancel(context.Background())
	return &ConnectionPool{
		factory: factory, cfg: newPoolConfig(opts),
		conns: map[string]*PooledConnection{}, ctx: ctx, cancel: cancel,
	}
}

// GetOrCreateConnection returns the pool's connection for server and role,
// dialing one if there is none or the existing one is unhealthy or closed.
// On the singleton returned by GetConnectionPool, while a provider is
// installed with Install (typically the router), the call is served by that
// provider instead, so old call sites switch with no edit and switch back
// when Install's restore runs.
// It is the ConnectionProvider method; GetPooledConnection returns the
// concrete type.
func (p *ConnectionPool) GetOrCreateConnection(server *Server, asRoot bool) (Connection, error) {
	if r := p.redirect(); r != nil {
		return r.GetOrCreateConnection(server, asRoot)
	}
	return p.getOrCreateDirect(server, asRoot)
}

// redirect returns the provider installed with Install when p is the
// singleton returned by GetConnectionPool, so old call sites of
// GetConnectionPool().GetOrCreateConnection follow the migration without
// edits; nil when p serves the call itself.
func (p *ConnectionPool) redirect() ConnectionProvider {
	if !p.singleton {
		return nil
	}
	cur := Current()
	if cur == nil || cur == ConnectionProvider(p) {
		return nil
	}
	return cur
}

// getOrCreateDirect is GetOrCreateConnection on p itself, never
// redirected: the router's legacy route uses it, so a router whose legacy
// side is the singleton cannot route to itself.
func (p *ConnectionPool) getOrCreateDirect(server *Server, asRoot bool) (Connection, error) {
	c, err := p.GetPooledConnection(server, asRoot)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// GetPooledConnection is GetOrCreateConnection returning *PooledConnection,
// the old signature's type.
func (p *ConnectionPool) GetPooledConnection(server *Server, asRoot bool) (*PooledConnection, error) {
	if err := server.Validate(asRoot); err != nil {
		return nil, err
	}
	key := Key(server, asRoot)
	if err := p.ensureStarted(); err != nil {
		return nil, &CommandError{Op: OpConnect, Key: key, Err: err}
	}
	for {
		if c := p.lookup(key); c != nil {
			return c, nil
		}
		c, err := p.dialShared(key, server, asRoot)
		if err != nil {
			return nil, err
		}
		if !c.isClosed() {
			c.lastUsed.Store(p.cfg.now().UnixNano())
			return c, nil
		}
	}
}

// lookup returns the usable connection for key, or nil. An unusable one is
// removed from the map and retired.
func (p *ConnectionPool) lookup(key string) *PooledConnection {
	p.mu.Lock()
	c := p.conns[key]
	if c == nil || c.usable() {
		p.mu.Unlock()
		if c != nil {
			c.lastUsed.Store(p.cfg.now().UnixNano())
		}
		return c
	}
	delete(p.conns, key)
	p.mu.Unlock()
	c.retire()
	return nil
}

// dialShared dials key once for all concurrent callers and stores the
// connection.
func (p *ConnectionPool) dialShared(key string, server *Server, asRoot bool) (*PooledConnection, error) {
	v, err, _ := p.dials.Do(key, func() (any, error) {
		return p.dial(key, server, asRoot)
	})
	if err != nil {
		return nil, err
	}
	return v.(*PooledConnection), nil
}

func (p *ConnectionPool) dial(key string, server *Server, asRoot bool) (*PooledConnection, error) {
	if c := p.lookup(key); c != nil {
		return c, nil // another dial finished just before this one began
	}
	if p.cfg.registrar != nil {
		if err := p.cfg.registrar.RegisterServer(key, server, asRoot); err != nil {
			return nil, &CommandError{Op: OpConnect, Key: key, Err: err}
		}
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.dialTimeout)
	defer cancel()
	start := time.Now()
	client, err := p.factory.Dial(ctx, key)
	p.stats.observeDial(time.Since(start), err)
	if err != nil {
		return nil, &CommandError{Op: OpConnect, Key: key, Err: p.stoppedOr(err)}
	}
	c := newPooledConnection(key, server, asRoot, client, p.cfg, &p.stats)
	if !p.store(key, c) {
		client.Close()
		return nil, &CommandError{Op: OpConnect, Key: key, Err: ErrPoolStopped}
	}
	return c, nil
}

// store puts c in the map unless the pool has stopped.
func (p *ConnectionPool) store(key string, c *PooledConnection) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.conns[key] = c
	return true
}

func (p *ConnectionPool) stoppedOr(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return ErrPoolStopped
	}
	return err
}

// RemoveConnection removes the connection for server and role from the pool
// and closes it once its running commands end. It does nothing if there is
// none.
func (p *ConnectionPool) RemoveConnection(server *Server, asRoot bool) {
	if c := p.take(Key(server, asRoot), false); c != nil {
		c.retire()
	}
}

// RemoveIdleConnection removes and closes the connection for server and
// role only if no command is running on it, and reports whether it did.
// The router calls it when the key's traffic moves to the new pool.
func (p *ConnectionPool) RemoveIdleConnection(server *Server, asRoot bool) bool {
	c := p.take(Key(server, asRoot), true)
	if c != nil {
		c.closeClient()
	}
	return c != nil
}

// take removes key's connection from the map and returns it. When idleOnly,
// it does so only if no command is running, and claims the connection for
// closing (the caller calls closeClient outside the lock).
func (p *ConnectionPool) take(key string, idleOnly bool) *PooledConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.conns[key]
	if c == nil || (idleOnly && !c.claimIdle()) {
		return nil
	}
	delete(p.conns, key)
	return c
}

// GetConnectionStatus returns the status of every connection in the pool,
// by key.
func (p *ConnectionPool) GetConnectionStatus() map[string]ConnectionStatus {
	conns := p.snapshot()
	out := make(map[string]ConnectionStatus, len(conns))
	for _, c := range conns {
		out[c.key] = c.status()
	}
	return out
}

// snapshot returns the connections currently in the map.
func (p *ConnectionPool) snapshot() []*PooledConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*PooledConnection, 0, len(p.conns))
	for _, c := range p.conns {
		out = append(out, c)
	}
	return out
}

// CleanupStaleConnections removes connections that are closed, or unhealthy,
// or unused for longer than maxAge, and have no command running, closes
// them, and returns how many it removed. The stale sweep calls it with the
// configured age.
func (p *ConnectionPool) CleanupStaleConnections(maxAge time.Duration) int {
	removed := p.takeStale(p.cfg.now().Add(-maxAge))
	for _, c := range removed {
		c.closeClient()
	}
	return len(removed)
}

// takeStale removes and claims the idle connections unused since cutoff or
// no longer usable.
func (p *ConnectionPool) takeStale(cutoff time.Time) []*PooledConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*PooledConnection
	for key, c := range p.conns {
		if c.isClosed() || ((c.LastUsed().Before(cutoff) || !c.usable()) && c.claimIdle()) {
			delete(p.conns, key)
			out = append(out, c)
		}
	}
	return out
}

// Len returns the number of connections in the pool.
func (p *ConnectionPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Start starts the health ticker and the stale sweep. GetOrCreateConnection
// calls it on first use. It is idempotent and returns ErrPoolStopped after
// Stop.
func (p *ConnectionPool) Start() error {
	return p.ensureStarted()
}

func (p *ConnectionPool) ensureStarted() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return ErrPoolStopped
	}
	if p.started {
		return nil
	}
	p.started = true
	if p.cfg.healthInterval > 0 {
		p.wg.Go(func() { p.loop(p.cfg.healthInterval, p.checkHealth) })
	}
	if p.cfg.staleInterval > 0 {
		p.wg.Go(func() { p.loop(p.cfg.staleInterval, p.sweep) })
	}
	return nil
}

// loop calls fn every interval until Stop.
func (p *ConnectionPool) loop(interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// checkHealth runs TestHealth on every usable connection, one after the
// other as the old ticker did. A failed check marks the connection unhealthy;
// the next GetOrCreateConnection replaces it and the stale sweep removes it.
// Unhealthy connections are not probed again: a probe in flight would keep
// the sweep from claiming them.
func (p *ConnectionPool) checkHealth() {
	for _, c := range p.snapshot() {
		if p.ctx.Err() != nil {
			return
		}
		if c.usable() {
			c.TestHealth() // the outcome is recorded on c
		}
	}
}

func (p *ConnectionPool) sweep() {
	p.CleanupStaleConnections(p.cfg.staleAge)
}

// Stop stops the loops and waits for them, cancels dials in flight, and
// closes every connection. Later calls return ErrPoolStopped. It is
// idempotent.
func (p *ConnectionPool) Stop() {
	p.mu.Lock()
	p.stopped = true
	conns := p.conns
	p.conns = map[string]*PooledConnection{}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	for _, c := range conns {
		c.Close()
	}
}
