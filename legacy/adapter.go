package legacy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

// LeasePool is the part of the new pool the adapter uses: Get leases a
// client for a key (dialing, waiting or failing as the pool's limits say),
// Release returns it. pool.Pool satisfies it.
type LeasePool interface {
	Get(ctx context.Context, key string) (pool.SSHClient, error)
	Release(key string, client pool.SSHClient) error
}

// EntryLister is implemented by pools that report their connections'
// metadata (pool.Pool does); the adapter then builds its status from it.
type EntryLister interface {
	Entries() []pool.EntryInfo
}

// Adapter serves the old API from the new pool: every command leases a
// client for the key, runs, and releases it, so the *PooledConnection it
// hands out holds nothing between commands. The same Options as the legacy
// pool's bound its commands and lease waits (WithCommandTimeout,
// WithDialTimeout), so both pools give old calls the same deadlines.
type Adapter struct {
	pool  LeasePool
	reg   TargetRegistrar
	cfg   *config
	drain drainer
	keys  sync.Map  // key string -> *keyStats
	ends  deadlines // the deadlines of calls without a context
}

// keyStats is what the adapter knows about one key; every field is atomic
// or immutable.
type keyStats struct {
	server  atomic.Pointer[Server] // the settings last registered
	conn    atomic.Pointer[PooledConnection]
	stats   useStats
	inUse   atomic.Int64
	healthy atomic.Bool
}

// NewAdapter returns an adapter over p. reg, when non-nil, registers each
// server's key before its first lease and again when its settings change.
// Options marked "adapter" apply. It starts no goroutine and does no I/O.
func NewAdapter(p LeasePool, reg TargetRegistrar, opts ...Option) *Adapter {
	return &Adapter{pool: p, reg: reg, cfg: newConfig(opts), drain: newDrainer()}
}

// GetOrCreateConnection registers the server's key if needed and returns
// the key's connection, whose every command leases its own client. When
// the key has no connection yet, its last command lost its connection, or
// the server's settings changed, it first leases and releases a client, so
// that an unreachable server fails here, as on the legacy pool; an open,
// healthy connection is returned without I/O, as the old pool returned its
// cached one. Callers for the same (server, user) get the same
// *PooledConnection until it is closed.
func (a *Adapter) GetOrCreateConnection(server *Server, asRoot bool) (*PooledConnection, error) {
	return a.GetOrCreateConnectionContext(context.Background(), server, asRoot)
}

// GetOrCreateConnectionContext is GetOrCreateConnection bounded by ctx as
// well as by the dial timeout.
func (a *Adapter) GetOrCreateConnectionContext(ctx context.Context, server *Server, asRoot bool) (*PooledConnection, error) {
	if err := server.Validate(asRoot); err != nil {
		return nil, err
	}
	key := Key(server, asRoot)
	if a.drain.stopped() {
		return nil, &CommandError{Op: OpConnect, Key: key, Err: ErrPoolStopped}
	}
	st, err := a.track(key, server, asRoot)
	if err != nil {
		return nil, &CommandError{Op: OpConnect, Key: key, Err: err}
	}
	if cur := st.conn.Load(); cur != nil && !cur.Closed() && st.healthy.Load() && sameServer(&cur.server, server) {
		st.stats.touch(a.cfg.now())
		return cur, nil
	}
	client, err := a.acquire(ctx, key)
	if err != nil {
		st.fail(err)
		return nil, &CommandError{Op: OpConnect, Key: key, Err: err}
	}
	a.pool.Release(key, client)
	return a.connFor(st, key, server, asRoot), nil
}

// connFor returns the key's current connection, or a new one when there
// is none, it was closed or the server's settings changed.
func (a *Adapter) connFor(st *keyStats, key string, server *Server, asRoot bool) *PooledConnection {
	for {
		cur := st.conn.Load()
		if cur != nil && !cur.Closed() && sameServer(&cur.server, server) {
			st.stats.touch(a.cfg.now())
			return cur
		}
		pc := newPooledConnection(key, server, asRoot, &adapterConn{a: a, key: key, st: st})
		if st.conn.CompareAndSwap(cur, pc) {
			return pc
		}
	}
}

// track returns key's stats, registering the server with the registrar
// the first time and whenever its settings change.
func (a *Adapter) track(key string, server *Server, asRoot bool) (*keyStats, error) {
	v, ok := a.keys.Load(key)
	if !ok {
		v, _ = a.keys.LoadOrStore(key, newKeyStats(a.cfg.now()))
	}
	st := v.(*keyStats)
	if prev := st.server.Load(); prev != nil && sameServer(prev, server) {
		return st, nil
	}
	if a.reg != nil {
		if err := a.reg.RegisterServer(key, server, asRoot); err != nil {
			return st, err
		}
	}
	cp := *server
	st.server.Store(&cp)
	return st, nil
}

func newKeyStats(now time.Time) *keyStats {
	st := &keyStats{}
	st.stats.init(now)
	st.healthy.Store(true)
	return st
}

// acquire leases a client for key, bounded by ctx and the dial timeout.
func (a *Adapter) acquire(ctx context.Context, key string) (pool.SSHClient, error) {
	return a.acquireBy(ctx, ctx, key, time.Now())
}

// acquireBy leases a client for key for a command whose context, cmd, is
// caller's bounded by the command's deadline: the lease is bounded by cmd
// and the dial timeout. When cmd's deadline comes first, cmd bounds the
// lease as it is. Else the lease gets a leaseCtx over caller (not under
// cmd: a context derived from cmd would be registered with it as a child,
// a map and a Done channel per command, for no difference in when it
// ends), whose timer is armed only if the lease has to wait. The wait
// starts at now.
func (a *Adapter) acquireBy(caller, cmd context.Context, key string, now time.Time) (pool.SSHClient, error) {
	dl := now.Add(a.cfg.dialTimeout)
	if end, ok := cmd.Deadline(); ok && !end.After(dl) {
		return a.pool.Get(cmd, key)
	}
	lc := newLeaseCtx(caller, dl)
	defer lc.release()
	return a.pool.Get(lc, key)
}

// lostRetries is how often a command runs again on a fresh lease after its
// connection turned out dead before the command started: the rule of
// pool.Pool.Run (pool.NotStartedRetries), for the pool's configuration
// when the pool reports it, else for the defaults.
func (a *Adapter) lostRetries() int {
	if cp, ok := a.pool.(interface{ Config() pool.PoolConfig }); ok {
		return pool.NotStartedRetries(cp.Config())
	}
	var cfg pool.PoolConfig
	cfg.SetDefaults()
	return pool.NotStartedRetries(cfg)
}

// RemoveIdleConnection asks the new pool, through the WithIdleDropper hook,
// to close the key's idle connections; it reports whether any closed.
func (a *Adapter) RemoveIdleConnection(server *Server, asRoot bool) bool {
	if a.cfg.dropIdle == nil {
		return false
	}
	return a.cfg.dropIdle(Key(server, asRoot))
}

// RemoveConnection forgets key: its status goes, its connection is closed
// (holders get ErrConnectionClosed; the next GetOrCreateConnection makes a
// new one) and the new pool is asked to drop the key's idle connections.
func (a *Adapter) RemoveConnection(key string) {
	if v, ok := a.keys.LoadAndDelete(key); ok {
		if c := v.(*keyStats).conn.Load(); c != nil {
			c.Close()
		}
	}
	if a.cfg.dropIdle != nil {
		a.cfg.dropIdle(key)
	}
}

// CleanupStaleConnections forgets the status of keys unused for maxAge and
// calls the WithStaleCleanup hook, returning what it returns (0 without a
// hook: the new pool's own cleanup closes idle connections).
func (a *Adapter) CleanupStaleConnections(maxAge time.Duration) int {
	cutoff := a.cfg.now().Add(-maxAge).UnixNano()
	a.keys.Range(func(k, v any) bool {
		if st := v.(*keyStats); st.inUse.Load() == 0 && st.stats.lastUsed.Load() < cutoff {
			a.keys.Delete(k)
		}
		return true
	})
	if a.cfg.cleanup == nil {
		return 0
	}
	return a.cfg.cleanup(maxAge)
}

// GetConnectionStatus reports, per key the adapter has served, what it saw
// (commands running and run, last use, whether the last lease or command
// lost the connection), overlaid with the pool's own view of the key's
// connections when the pool is an EntryLister.
func (a *Adapter) GetConnectionStatus() map[string]ConnectionHealthStatus {
	out := map[string]ConnectionHealthStatus{}
	now := a.cfg.now()
	a.keys.Range(func(k, v any) bool {
		out[k.(string)] = v.(*keyStats).status(now)
		return true
	})
	if el, ok := a.pool.(EntryLister); ok {
		overlayEntries(out, el.Entries(), now)
	}
	return out
}

// overlayEntries replaces the connection fields of each served key's status
// with the aggregate of the pool's entries for the key: healthy when any
// connection is usable, leases summed, oldest creation, latest use and
// health check.
func overlayEntries(out map[string]ConnectionHealthStatus, entries []pool.EntryInfo, now time.Time) {
	seen := map[string]time.Time{} // key -> oldest connection
	for _, e := range entries {
		st, ok := out[e.Key]
		if !ok {
			continue
		}
		if _, ok := seen[e.Key]; !ok {
			seen[e.Key] = e.Created
			st.Healthy, st.InUse = false, 0
		}
		st.Healthy = st.Healthy || e.State == pool.StateIdle || e.State == pool.StateActive
		st.InUse += int(e.Leases)
		if e.Created.Before(seen[e.Key]) {
			seen[e.Key] = e.Created
		}
		st.Age = now.Sub(seen[e.Key])
		if e.LastUsed.After(st.LastUsed) {
			st.LastUsed = e.LastUsed
		}
		if e.LastHealthCheck.After(st.LastHealthCheck) {
			st.LastHealthCheck = e.LastHealthCheck
		}
		out[e.Key] = st
	}
	for key, st := range out {
		if _, ok := seen[key]; !ok { // the pool has no connection for the key (closed idle)
			st.InUse = 0
			out[key] = st
		}
	}
}

func (st *keyStats) status(now time.Time) ConnectionHealthStatus {
	s := ConnectionHealthStatus{Pool: PoolNew, Healthy: st.healthy.Load(), InUse: int(st.inUse.Load())}
	st.stats.fill(&s, now)
	return s
}

// fail records a failure that lost or could not make the connection.
func (st *keyStats) fail(err error) {
	if k := classify(err); k.ConnectionFatal() || k == failure.Refused || k == failure.PoolClosed || k.Permanent() {
		st.healthy.Store(false)
		st.stats.fail(err)
	}
}

// end records a command's outcome.
func (st *keyStats) end(err error) {
	if err == nil {
		st.healthy.Store(true)
		st.stats.recovered()
		return
	}
	st.fail(err)
}

// Stop stops the adapter gracefully: new calls are refused at once with
// ErrPoolStopped, commands already running may finish within the drain
// timeout (WithDrainTimeout); those still running then are logged. The new
// pool itself is not closed: its owner closes it. It is idempotent.
func (a *Adapter) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.drainTimeout)
	defer cancel()
	if err := a.StopContext(ctx); err != nil {
		a.cfg.logger.Warn("legacy: adapter stopped before its commands ended", "err", err)
	}
}

// StopContext is Stop with the drain bounded by ctx. It returns a
// *DrainError listing the commands still running when ctx ended (they
// run on until the new pool's owner closes it), nil otherwise.
func (a *Adapter) StopContext(ctx context.Context) error {
	if !a.drain.stop() {
		return nil
	}
	err := a.drain.wait(ctx)
	if err == nil {
		return nil
	}
	de := &DrainError{Pool: "adapter", Keys: map[string]int{}, Err: err}
	a.keys.Range(func(k, v any) bool {
		if n := int(v.(*keyStats).inUse.Load()); n > 0 {
			de.Keys[k.(string)] += n
			de.Cut += n
		}
		return true
	})
	if de.Cut == 0 {
		return nil
	}
	return de
}

// adapterConn is the adapter's backend of a *PooledConnection: a key and
// nothing held. Each command leases a client from the new pool, runs and
// releases it.
type adapterConn struct {
	a      *Adapter
	key    string
	st     *keyStats
	closed atomic.Bool
}

// with leases a client, calls fn with it and releases it: refused after
// Close and Stop, bounded by the timeout of op and ctx, retried as
// retryCommand says (a failure before the command started runs again on a
// fresh lease, as pool.Pool.Run does).
func (c *adapterConn) with(ctx context.Context, op string, fn clientOp) error {
	if c.closed.Load() {
		return notStarted(ErrConnectionClosed)
	}
	if !c.a.drain.begin() {
		return notStarted(ErrPoolStopped)
	}
	defer c.a.drain.end()
	caller, now := ctx, time.Now() // one clock read bounds the command and its first lease
	if _, ok := ctx.Deadline(); !ok && ctx.Done() == nil && op != OpClient {
		dc := c.a.ends.start(ctx, now, now.Add(c.a.cfg.timeout(op))) // the old API's calls without a context
		defer dc.release()
		ctx = dc
	} else {
		var cancel context.CancelFunc
		ctx, cancel = c.a.cfg.bound(ctx, op, now)
		defer cancel()
	}
	if op != OpHealth {
		c.st.stats.touch(c.a.cfg.now())
	}
	c.st.inUse.Add(1)
	defer c.st.inUse.Add(-1)
	err := retryCommand(ctx, c.a.lostRetries, func() error {
		if now.IsZero() { // a retry: its lease wait starts now
			now = time.Now()
		}
		client, err := c.a.acquireBy(caller, ctx, c.key, now)
		now = time.Time{}
		if err != nil {
			return notStarted(err)
		}
		defer c.a.pool.Release(c.key, client)
		return fn.run(ctx, client)
	})
	c.st.end(err)
	return err
}

func (c *adapterConn) exec(ctx context.Context, cmd string) (string, error) {
	return execVia(ctx, c.with, c.key, cmd)
}

func (c *adapterConn) stream(ctx context.Context, cmd string, out chan<- string) error {
	return streamVia(ctx, c.with, c.a.cfg, c.key, cmd, out, func(n int64) { c.st.stats.dropped.Add(n) })
}

func (c *adapterConn) withClient(ctx context.Context, fn func(context.Context, pool.SSHClient) error) error {
	return clientVia(ctx, c.with, c.key, fn)
}

// testHealth leases a client and runs the health command on it.
func (c *adapterConn) testHealth() error {
	start := c.a.cfg.now()
	err := healthVia(c.with, c.key, c.a.cfg.healthCommand)
	now := c.a.cfg.now()
	if err != nil {
		c.st.stats.checked(now, 0)
		return err
	}
	c.st.stats.checked(now, now.Sub(start))
	return nil
}

// isHealthy reports, without I/O, whether the connection is open and the
// key's last lease or command did not lose its connection.
func (c *adapterConn) isHealthy() bool { return !c.closed.Load() && c.st.healthy.Load() }

func (c *adapterConn) touch() { c.st.stats.touch(c.a.cfg.now()) }

func (c *adapterConn) status() ConnectionHealthStatus {
	st := c.st.status(c.a.cfg.now())
	st.Healthy = st.Healthy && !c.closed.Load()
	return st
}

// close marks the connection closed: later commands fail with
// ErrConnectionClosed. The pool's connections stay open for other callers.
func (c *adapterConn) close() error {
	c.closed.Store(true)
	return nil
}

func (c *adapterConn) isClosed() bool { return c.closed.Load() }
