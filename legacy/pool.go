package legacy

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// ConnectionPool is the old singleton pool: one shared connection per
// (server, user), kept in a map under Key, checked by a health ticker and
// swept when stale. It is the rollback target, so it behaves as the old
// pool did, with the API it had (NewConnectionPool(), Start, Stop,
// GetOrCreateConnection, RemoveConnection(key), GetConnectionStatus,
// CleanupStaleConnections). Where the old pool was unsafe it differs, on
// purpose (see the package documentation): every command and dial has a
// deadline, host keys are verified, a dead connection is re-established
// in place, sessions past the server's limit wait, a failing key is
// redialled with a backoff, Stop drains.
//
// The singleton (GetConnectionPool) also serves as the seam: while a
// provider is installed with Install, its methods are served by that
// provider.
type ConnectionPool struct {
	cfg   *config
	drain drainer
	stats poolStats // see Stats; shared with the connections

	// mu guards conns, backoff, started and stopped. No I/O happens under
	// it: dials, health checks and closes run outside. Lock order: mu
	// before poolConn.mu.
	mu      sync.Mutex
	conns   map[string]*poolConn
	backoff map[string]*dialFailure
	started bool
	stopped bool

	ctx    context.Context // canceled by Stop; bounds dials and loops
	cancel context.CancelFunc
	wg     sync.WaitGroup // the health and stale loops, and dials

	// singleton is set (before the pool is shared) on the pool that
	// GetConnectionPool returns; only that pool redirects to the installed
	// provider.
	singleton bool
}

// dialFailure is a key's run of failed dials, for the dial backoff.
type dialFailure struct {
	failures int
	until    time.Time
	err      error
	server   Server
}

// NewConnectionPool returns a legacy pool, as the old constructor did:
// called without options it dials each Server's Target (see Server.Target)
// with a dialer of its own. Options set the factory, timeouts and loops.
// It starts no goroutine and does no I/O; the loops start with Start or
// the first GetOrCreateConnection.
func NewConnectionPool(opts ...Option) *ConnectionPool {
	cfg := newConfig(opts)
	if cfg.factory == nil {
		d := newDialer(cfg.logger)
		cfg.factory = d
		cfg.registrar = append(registrars{d}, cfg.registrar...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &ConnectionPool{
		cfg: cfg, drain: newDrainer(), conns: map[string]*poolConn{},
		backoff: map[string]*dialFailure{}, ctx: ctx, cancel: cancel,
	}
}

// redirect returns the provider installed with Install when p is the
// singleton returned by GetConnectionPool, so old call sites follow the
// migration without edits; nil when p serves the call itself.
func (p *ConnectionPool) redirect() ConnectionProvider {
	if !p.singleton {
		return nil
	}
	cur := installedProvider()
	if cur == nil || cur == ConnectionProvider(p) {
		return nil
	}
	return cur
}

// GetOrCreateConnection returns the pool's connection for server and role,
// dialing it if there is none, or re-establishing it if it died or failed
// its health check; every caller for the same (server, user) gets the same
// *PooledConnection. A failed dial returns a *CommandError (OpConnect); a
// key whose last dial failed less than the backoff ago returns the last
// error without dialing (*BackoffError). When the connection is removed
// while it is being dialled (RemoveConnection), it is dialled again, for
// as long as the dial timeout (WithDialTimeout) allows.
//
// On the singleton, while a provider is installed with Install (the
// router), the call is served by that provider.
func (p *ConnectionPool) GetOrCreateConnection(server *Server, asRoot bool) (*PooledConnection, error) {
	if r := p.redirect(); r != nil {
		return r.GetOrCreateConnection(server, asRoot)
	}
	return p.getDirect(server, asRoot)
}

// getDirect is GetOrCreateConnection on p itself, never redirected: the
// router's legacy route uses it, so a router whose legacy side is the
// singleton cannot route to itself.
func (p *ConnectionPool) getDirect(server *Server, asRoot bool) (*PooledConnection, error) {
	if err := server.Validate(asRoot); err != nil {
		return nil, err
	}
	key := Key(server, asRoot)
	if err := p.ensureStarted(); err != nil {
		return nil, &CommandError{Op: OpConnect, Key: key, Err: err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.dialTimeout)
	defer cancel()
	for {
		c, found := p.entry(key, server, asRoot)
		if found {
			c.touch()
		}
		if c.usable() {
			return c.pc, nil
		}
		err := c.connect(ctx)
		if err == nil {
			return c.pc, nil
		}
		// Removed while it dialled (RemoveConnection, PooledConnection.Close):
		// the next entry is new. The old pool put a connection in its map
		// only once dialled, so a removal meanwhile removed nothing and
		// could not fail the caller; here the caller dials again, as
		// often as its dial timeout allows.
		if errors.Is(err, ErrConnectionClosed) {
			if ctx.Err() == nil {
				continue
			}
			err = ctx.Err() // removed as the dial timeout ran out: a timeout
		}
		p.dropUnconnected(c)
		return nil, &CommandError{Op: OpConnect, Key: key, Err: err}
	}
}

// entry returns key's connection, creating it (not yet dialled) if there is
// none, or the one there is closed, or was made for other settings and
// must be dialled anyway. found reports whether it existed.
func (p *ConnectionPool) entry(key string, s *Server, asRoot bool) (c *poolConn, found bool) {
	p.mu.Lock()
	c = p.conns[key]
	if c != nil && !c.isClosed() && (sameServer(&c.server, s) || c.usable()) {
		p.mu.Unlock()
		return c, true
	}
	old := c
	c = newPoolConn(p, key, s, asRoot)
	p.conns[key] = c
	p.mu.Unlock()
	if old != nil {
		old.retire()
	}
	return c, false
}

// dropUnconnected removes c from the map when it never connected and no
// command runs on it (its first dial failed), as the old pool stored
// nothing for a failed dial.
func (p *ConnectionPool) dropUnconnected(c *poolConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[c.key] != c {
		return
	}
	c.mu.Lock()
	never := c.gen == nil && c.inUse == 0 && !c.dialing
	if never {
		c.retired, c.closed = true, true
	}
	c.mu.Unlock()
	if never {
		delete(p.conns, c.key)
	}
}

// dial dials key once: it refuses after Stop, returns a *BackoffError while
// the key's backoff runs, registers the server, and dials through the
// factory bounded by the dial timeout and Stop.
func (p *ConnectionPool) dial(key string, s *Server, asRoot bool) (pool.SSHClient, error) {
	if !p.trackDial() {
		return nil, ErrPoolStopped
	}
	defer p.wg.Done()
	if err := p.backoffErr(key, s); err != nil {
		return nil, err
	}
	if len(p.cfg.registrar) > 0 {
		if err := p.cfg.registrar.RegisterServer(key, s, asRoot); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.dialTimeout)
	defer cancel()
	start := time.Now()
	client, err := p.cfg.factory.Dial(ctx, key)
	p.stats.observeDial(time.Since(start), err)
	if err != nil {
		if p.ctx.Err() != nil {
			return nil, ErrPoolStopped
		}
		p.dialFailed(key, s, err)
		return nil, err
	}
	p.dialSucceeded(key)
	return client, nil
}

// trackDial registers a dial with the wait group unless the pool stopped.
func (p *ConnectionPool) trackDial() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.wg.Add(1)
	return true
}

// backoffErr returns a *BackoffError while key's backoff runs, unless the
// server's settings changed since the failure (a fix should not wait).
func (p *ConnectionPool) backoffErr(key string, s *Server) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.backoff[key]
	if f == nil || !sameServer(&f.server, s) {
		return nil
	}
	if wait := f.until.Sub(p.cfg.now()); wait > 0 {
		return &BackoffError{Key: key, Failures: f.failures, Retry: wait, Err: f.err}
	}
	return nil
}

// dialFailed records a failed dial and starts the key's next backoff.
func (p *ConnectionPool) dialFailed(key string, s *Server, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.backoff[key]
	if f == nil || !sameServer(&f.server, s) {
		f = &dialFailure{server: *s}
		p.backoff[key] = f
	}
	f.failures++
	f.err = err
	f.until = p.cfg.now().Add(jitter(backoff(p.cfg.backoff, p.cfg.backMax, f.failures)))
}

// forgetBackoffs drops the backoff state of keys whose backoff ended
// before cutoff: a key nobody dials any more does not stay in the map.
func (p *ConnectionPool) forgetBackoffs(cutoff time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, f := range p.backoff {
		if f.until.Before(cutoff) {
			delete(p.backoff, key)
		}
	}
}

func (p *ConnectionPool) dialSucceeded(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.backoff, key)
}

// RemoveConnection removes the connection under key (as reported by
// GetConnectionStatus: "host:port:id:root|app") from the pool and closes it
// once its running commands end. Holders then get ErrConnectionClosed and
// the next GetOrCreateConnection makes a new one. It does nothing for an
// unknown key. On the singleton with a provider installed, the provider
// removes it.
func (p *ConnectionPool) RemoveConnection(key string) {
	if r := p.redirect(); r != nil {
		if rm, ok := r.(Remover); ok {
			rm.RemoveConnection(key)
		}
		return
	}
	p.mu.Lock()
	c := p.conns[key]
	delete(p.conns, key)
	p.mu.Unlock()
	if c != nil {
		c.retire()
	}
}

// RemoveIdleConnection removes and closes the connection for server and
// role only if no command is running on it, and reports whether it did.
// The router calls it when the key's traffic moves to the new pool.
func (p *ConnectionPool) RemoveIdleConnection(server *Server, asRoot bool) bool {
	key := Key(server, asRoot)
	p.mu.Lock()
	c := p.conns[key]
	var ok bool
	var g *generation
	if c != nil {
		if ok, g = c.claimIdle(); ok {
			delete(p.conns, key)
		}
	}
	p.mu.Unlock()
	if g != nil {
		g.client.Close()
	}
	return ok
}

// GetConnectionStatus returns the status of every connection in the pool,
// by key. It does no I/O. On the singleton with a provider installed, it
// returns the provider's (the router's: both pools').
func (p *ConnectionPool) GetConnectionStatus() map[string]ConnectionHealthStatus {
	if r := p.redirect(); r != nil {
		if sr, ok := r.(StatusReporter); ok {
			return sr.GetConnectionStatus()
		}
		return map[string]ConnectionHealthStatus{}
	}
	conns := p.snapshot()
	out := make(map[string]ConnectionHealthStatus, len(conns))
	for _, c := range conns {
		out[c.key] = c.status()
	}
	return out
}

// snapshot returns the connections currently in the map.
func (p *ConnectionPool) snapshot() []*poolConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*poolConn, 0, len(p.conns))
	for _, c := range p.conns {
		out = append(out, c)
	}
	return out
}

// CleanupStaleConnections removes the connections unused for longer than
// maxAge (and closed ones) that have no command running, closes them, and
// returns how many it removed. The stale sweep calls it with the
// configured age. On the singleton with a provider installed, the provider
// cleans up.
func (p *ConnectionPool) CleanupStaleConnections(maxAge time.Duration) int {
	if r := p.redirect(); r != nil {
		if sc, ok := r.(StaleCleaner); ok {
			return sc.CleanupStaleConnections(maxAge)
		}
		return 0
	}
	p.forgetBackoffs(p.cfg.now().Add(-p.cfg.backMax))
	removed := p.takeStale(p.cfg.now().Add(-maxAge))
	for _, g := range removed {
		if g != nil {
			g.client.Close()
		}
	}
	return len(removed)
}

// takeStale removes and claims the idle connections unused since cutoff
// or closed, and returns their generations to close.
func (p *ConnectionPool) takeStale(cutoff time.Time) []*generation {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*generation
	for key, c := range p.conns {
		if c.isClosed() {
			delete(p.conns, key)
			out = append(out, nil)
			continue
		}
		if time.Unix(0, c.stats.lastUsed.Load()).Before(cutoff) {
			if ok, g := c.claimIdle(); ok {
				delete(p.conns, key)
				out = append(out, g)
			}
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

// Start starts the health ticker and the stale sweep, as the old Start
// did. GetOrCreateConnection calls it on first use. It is idempotent and
// does nothing after Stop.
func (p *ConnectionPool) Start() {
	_ = p.ensureStarted()
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

// checkHealth probes every connection, one after the other as the old
// ticker did. A failed probe marks the SSH connection for replacement: the
// next command re-establishes it. A connection that is dead already is not
// probed (nor redialled in the background).
func (p *ConnectionPool) checkHealth() {
	for _, c := range p.snapshot() {
		if p.ctx.Err() != nil {
			return
		}
		if c.usable() {
			c.probe(p.ctx)
		}
	}
}

func (p *ConnectionPool) sweep() {
	p.CleanupStaleConnections(p.cfg.staleAge)
}

// Stop stops the pool gracefully: new calls are refused at once with
// ErrPoolStopped ("shutting down"), commands already running may finish
// within the drain timeout (WithDrainTimeout, 10 s by default), then the
// loops end and every connection is closed. Commands still running then
// are cut, and logged (StopContext returns them as a *DrainError). The old
// Stop closed every connection at once. It is idempotent. On the singleton
// with a provider installed, the provider is stopped.
func (p *ConnectionPool) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.drainTimeout)
	defer cancel()
	if err := p.StopContext(ctx); err != nil {
		p.cfg.logger.Warn("legacy: pool stopped before its commands ended", "err", err)
	}
}

// StopContext is Stop with the drain bounded by ctx instead of the drain
// timeout. It returns a *DrainError listing the commands it cut when ctx
// ended first, nil otherwise. Later calls return nil at once.
func (p *ConnectionPool) StopContext(ctx context.Context) error {
	if r := p.redirect(); r != nil {
		if s, ok := r.(Stopper); ok {
			return s.StopContext(ctx)
		}
		return nil
	}
	return p.stopDirect(ctx)
}

// stopDirect is StopContext on p itself, never redirected.
func (p *ConnectionPool) stopDirect(ctx context.Context) error {
	if !p.drain.stop() {
		return nil
	}
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	err := p.drain.wait(ctx)
	var cut error
	if err != nil {
		cut = p.cutReport(err)
	}
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	conns := p.conns
	p.conns = map[string]*poolConn{}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return cut
}

// cutReport describes the commands still running when the drain ended.
func (p *ConnectionPool) cutReport(err error) error {
	de := &DrainError{Pool: PoolLegacy, Keys: map[string]int{}, Err: err}
	for _, c := range p.snapshot() {
		if n := c.status().InUse; n > 0 {
			de.Keys[c.key] += n
			de.Cut += n
		}
	}
	if de.Cut == 0 {
		return nil // they ended as the deadline passed
	}
	return de
}
