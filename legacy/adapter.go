package legacy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// LeasePool is the part of the new pool the adapter uses: Get leases a
// client for a key (dialing, waiting or failing as the pool's limits say),
// Release returns it. pool.Pool satisfies it.
type LeasePool interface {
	Get(ctx context.Context, key string) (pool.SSHClient, error)
	Release(key string, client pool.SSHClient) error
}

// DefaultAcquireTimeout bounds the adapter's wait for a lease when the
// caller gave no context (the old API has none).
const DefaultAcquireTimeout = 30 * time.Second

// adapterConfig is an Adapter's configuration; read-only after NewAdapter.
type adapterConfig struct {
	acquireTimeout time.Duration
	commandTimeout time.Duration
	healthCommand  string
	healthTimeout  time.Duration
	dropIdle       func(key string) bool
	cleanup        func(maxAge time.Duration) int
	now            func() time.Time
}

// AdapterOption configures an Adapter.
type AdapterOption func(*adapterConfig)

// WithAcquireTimeout bounds the wait for a lease (dial included) of calls
// without a context. Default DefaultAcquireTimeout; non-positive keeps it.
func WithAcquireTimeout(d time.Duration) AdapterOption {
	return func(c *adapterConfig) {
		if d > 0 {
			c.acquireTimeout = d
		}
	}
}

// WithAdapterCommandTimeout bounds each command of calls without a context.
// Default zero: no bound, as in the legacy pool.
func WithAdapterCommandTimeout(d time.Duration) AdapterOption {
	return func(c *adapterConfig) { c.commandTimeout = d }
}

// WithAdapterHealthCheck sets the command TestHealth runs and its timeout.
// Defaults DefaultHealthCommand and DefaultHealthTimeout.
func WithAdapterHealthCheck(cmd string, timeout time.Duration) AdapterOption {
	return func(c *adapterConfig) {
		if cmd != "" {
			c.healthCommand = cmd
		}
		if timeout > 0 {
			c.healthTimeout = timeout
		}
	}
}

// WithIdleDropper sets the hook RemoveIdleConnection calls to close a key's
// idle connections in the new pool (the router calls it when a key's
// traffic moves back to legacy). It runs on the caller's goroutine (the
// router's deciding one), must not block for long and must not call the
// adapter. Default none: the pool's idle cleanup (MaxIdleTime) closes them
// in its own time.
func WithIdleDropper(drop func(key string) bool) AdapterOption {
	return func(c *adapterConfig) { c.dropIdle = drop }
}

// WithStaleCleanup sets the hook CleanupStaleConnections calls (for example
// the pool's idle cleanup), on the caller's goroutine. Default none.
func WithStaleCleanup(cleanup func(maxAge time.Duration) int) AdapterOption {
	return func(c *adapterConfig) { c.cleanup = cleanup }
}

// Adapter serves the old API (ConnectionProvider, Connection) from the new
// pool: every command leases a client for the key, runs, and releases it,
// so the connections it hands out hold nothing between commands.
type Adapter struct {
	pool LeasePool
	reg  TargetRegistrar
	cfg  adapterConfig
	keys sync.Map // key string -> *keyStats
}

// keyStats is what the adapter knows about one key; all fields are atomic
// or immutable.
type keyStats struct {
	server   atomic.Pointer[Server] // the settings last registered
	created  time.Time
	lastUsed atomic.Int64
	inUse    atomic.Int64
	commands atomic.Int64
	healthy  atomic.Bool
	lastErr  atomic.Pointer[string]
}

// NewAdapter returns an adapter over p. reg, when non-nil, registers each
// server's key before its first lease and again when its settings change.
// It starts no goroutine and does no I/O.
func NewAdapter(p LeasePool, reg TargetRegistrar, opts ...AdapterOption) *Adapter {
	cfg := adapterConfig{
		acquireTimeout: DefaultAcquireTimeout, healthCommand: DefaultHealthCommand,
		healthTimeout: DefaultHealthTimeout, now: time.Now,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return &Adapter{pool: p, reg: reg, cfg: cfg}
}

// GetOrCreateConnection registers the server's key if needed, leases and
// releases a client once (so that an unreachable server fails here, as on
// the legacy pool) and returns a connection whose every command leases its
// own client.
func (a *Adapter) GetOrCreateConnection(server *Server, asRoot bool) (Connection, error) {
	c, err := a.GetOrCreateConnectionContext(context.Background(), server, asRoot)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return c, nil
}

// GetOrCreateConnectionContext is GetOrCreateConnection bounded by ctx.
func (a *Adapter) GetOrCreateConnectionContext(ctx context.Context, server *Server, asRoot bool) (*AdapterConnection, error) {
	if err := server.Validate(asRoot); err != nil {
		return nil, err
	}
	key := Key(server, asRoot)
	st, err := a.track(key, server, asRoot)
	if err != nil {
		return nil, &CommandError{Op: OpConnect, Key: key, Err: err}
	}
	client, err := a.acquire(ctx, key)
	if err != nil {
		st.fail(err)
		return nil, &CommandError{Op: OpConnect, Key: key, Err: err}
	}
	a.pool.Release(key, client)
	return &AdapterConnection{a: a, key: key, st: st}, nil
}

// track returns key's stats, registering the server with the registrar
// the first time and whenever its settings change.
func (a *Adapter) track(key string, server *Server, asRoot bool) (*keyStats, error) {
	v, ok := a.keys.Load(key)
	if !ok {
		v, _ = a.keys.LoadOrStore(key, newKeyStats(a.cfg.now()))
	}
	st := v.(*keyStats)
	if prev := st.server.Load(); prev != nil && *prev == *server {
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
	st := &keyStats{created: now}
	st.lastUsed.Store(now.UnixNano())
	st.healthy.Store(true)
	return st
}

// acquire leases a client for key, bounded by ctx and the acquire timeout.
func (a *Adapter) acquire(ctx context.Context, key string) (pool.SSHClient, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.acquireTimeout)
	defer cancel()
	return a.pool.Get(ctx, key)
}

// commandContext bounds a context-less call by the command timeout.
func (a *Adapter) commandContext() (context.Context, context.CancelFunc) {
	if a.cfg.commandTimeout > 0 {
		return context.WithTimeout(context.Background(), a.cfg.commandTimeout)
	}
	return context.WithCancel(context.Background())
}

// RemoveIdleConnection asks the new pool, through the WithIdleDropper hook,
// to close the key's idle connections; it reports whether any closed.
func (a *Adapter) RemoveIdleConnection(server *Server, asRoot bool) bool {
	if a.cfg.dropIdle == nil {
		return false
	}
	return a.cfg.dropIdle(Key(server, asRoot))
}

// CleanupStaleConnections forgets the status of keys unused for maxAge and
// calls the WithStaleCleanup hook, returning what it returns (0 without a
// hook: the new pool's own cleanup closes idle connections).
func (a *Adapter) CleanupStaleConnections(maxAge time.Duration) int {
	cutoff := a.cfg.now().Add(-maxAge).UnixNano()
	a.keys.Range(func(k, v any) bool {
		if st := v.(*keyStats); st.inUse.Load() == 0 && st.lastUsed.Load() < cutoff {
			a.keys.Delete(k)
		}
		return true
	})
	if a.cfg.cleanup == nil {
		return 0
	}
	return a.cfg.cleanup(maxAge)
}

// EntryLister is implemented by pools that report their connections'
// metadata (pool.Pool does); the adapter then builds its status from it.
type EntryLister interface {
	Entries() []pool.EntryInfo
}

// GetConnectionStatus reports, per key the adapter has served, what it saw
// (commands running and run, last use, whether the last lease or command
// lost the connection), overlaid with the pool's own view of the key's
// connections when the pool is an EntryLister.
func (a *Adapter) GetConnectionStatus() map[string]ConnectionStatus {
	out := map[string]ConnectionStatus{}
	a.keys.Range(func(k, v any) bool {
		out[k.(string)] = v.(*keyStats).status(k.(string))
		return true
	})
	if el, ok := a.pool.(EntryLister); ok {
		overlayEntries(out, el.Entries())
	}
	return out
}

// overlayEntries replaces the connection fields of each served key's status
// with the aggregate of the pool's entries for the key: connected and
// healthy when any connection is usable, leases summed, oldest creation,
// latest use and health check.
func overlayEntries(out map[string]ConnectionStatus, entries []pool.EntryInfo) {
	seen := map[string]bool{}
	for _, e := range entries {
		st, ok := out[e.Key]
		if !ok {
			continue
		}
		if !seen[e.Key] {
			seen[e.Key] = true
			st.Connected, st.Healthy, st.InUse, st.CreatedAt = false, false, 0, e.Created
		}
		usable := e.State == pool.StateIdle || e.State == pool.StateActive
		st.Connected = st.Connected || e.State != pool.StateClosed
		st.Healthy = st.Healthy || usable
		st.InUse += int(e.Leases)
		if e.Created.Before(st.CreatedAt) {
			st.CreatedAt = e.Created
		}
		if e.LastUsed.After(st.LastUsed) {
			st.LastUsed = e.LastUsed
		}
		if e.LastHealthCheck.After(st.LastHealthCheck) {
			st.LastHealthCheck = e.LastHealthCheck
		}
		out[e.Key] = st
	}
	for key, st := range out {
		if !seen[key] { // the pool has no connection for the key (closed idle)
			st.Connected, st.InUse = false, 0
			out[key] = st
		}
	}
}

func (st *keyStats) status(key string) ConnectionStatus {
	s := ConnectionStatus{
		Key: key, Connected: st.healthy.Load(), Healthy: st.healthy.Load(),
		InUse: int(st.inUse.Load()), CreatedAt: st.created,
		LastUsed: time.Unix(0, st.lastUsed.Load()), Commands: st.commands.Load(),
	}
	if srv := st.server.Load(); srv != nil {
		s.ServerID, s.Host, s.Port = srv.ID, srv.Host, srv.EffectivePort()
		s.AsRoot = key[len(key)-len("root"):] == "root"
		s.User = srv.User(s.AsRoot)
	}
	if p := st.lastErr.Load(); p != nil {
		s.LastError = *p
	}
	return s
}

// fail records a failure that lost or could not make the connection.
func (st *keyStats) fail(err error) {
	if k := classify(err); k.ConnectionFatal() || k == pool.KindRefused || k == pool.KindPoolClosed || k.Permanent() {
		st.healthy.Store(false)
		msg := err.Error()
		st.lastErr.Store(&msg)
	}
}

// begin and end bracket a command.
func (st *keyStats) begin(now time.Time) {
	st.inUse.Add(1)
	st.lastUsed.Store(now.UnixNano())
}

// abandon ends an attempt that ran no command (it is retried).
func (st *keyStats) abandon() { st.inUse.Add(-1) }

func (st *keyStats) end(err error) {
	st.inUse.Add(-1)
	st.commands.Add(1)
	if err == nil {
		st.healthy.Store(true)
		return
	}
	st.fail(err)
}

// AdapterConnection is the adapter's Connection: a key and nothing held.
// Each command leases a client from the new pool, runs and releases it.
type AdapterConnection struct {
	a      *Adapter
	key    string
	st     *keyStats
	closed atomic.Bool
}

// Key returns the pool key, "host:port:id:root|app".
func (c *AdapterConnection) Key() string { return c.key }

// ExecuteCommand runs cmd on a leased client and returns its combined
// output, exactly as PooledConnection.ExecuteCommand does. The lease waits
// up to the acquire timeout; the command is bounded by the adapter's
// command timeout (none by default).
func (c *AdapterConnection) ExecuteCommand(cmd string) (string, error) {
	ctx, cancel := c.a.commandContext()
	defer cancel()
	return c.ExecuteCommandContext(ctx, cmd)
}

// ExecuteCommandContext is ExecuteCommand bounded by ctx.
func (c *AdapterConnection) ExecuteCommandContext(ctx context.Context, cmd string) (string, error) {
	var out string
	err := c.run(ctx, OpExec, cmd, func(client pool.SSHClient) error {
		var err error
		out, err = runCombined(ctx, client, c.key, cmd)
		return err
	})
	return out, err
}

// ExecuteCommandStream runs cmd on a leased client and sends each line of
// its standard output on output; it does not close output.
func (c *AdapterConnection) ExecuteCommandStream(cmd string, output chan<- string) error {
	ctx, cancel := c.a.commandContext()
	defer cancel()
	return c.ExecuteCommandStreamContext(ctx, cmd, output)
}

// ExecuteCommandStreamContext is ExecuteCommandStream bounded by ctx.
func (c *AdapterConnection) ExecuteCommandStreamContext(ctx context.Context, cmd string, output chan<- string) error {
	return c.run(ctx, OpStream, cmd, func(client pool.SSHClient) error {
		return runStream(ctx, client, c.key, cmd, output)
	})
}

// notStartedRetries is how many times a command runs again on a fresh
// lease when its connection turned out dead before the command reached
// the server (pool.LostBeforeStart), as pool.Pool.Run does.
// The pool retires the dead connection when the failure is seen, so the
// next lease is another connection or a new dial. Two retries allow for a
// second connection of the key that died unseen too, as database/sql
// retries a bad connection twice before dialling.
const notStartedRetries = 2

// run leases a client, calls fn with it and releases it, retrying a
// failure before the command started (notStartedRetries). Only attempts
// that ran count as commands in the key's status.
func (c *AdapterConnection) run(ctx context.Context, op, cmd string, fn func(pool.SSHClient) error) error {
	for attempt := 0; ; attempt++ {
		client, err := c.lease(ctx, op, cmd)
		if err != nil {
			return err
		}
		c.st.begin(c.a.cfg.now())
		err = func() error {
			defer c.a.pool.Release(c.key, client)
			return fn(client)
		}()
		if attempt < notStartedRetries && pool.LostBeforeStart(err) {
			c.st.abandon()
			continue
		}
		c.st.end(err)
		return err
	}
}

// lease gets a client for a command, shaping failures as *CommandError.
func (c *AdapterConnection) lease(ctx context.Context, op, cmd string) (pool.SSHClient, error) {
	if c.closed.Load() {
		return nil, &CommandError{Op: op, Key: c.key, Cmd: cmd, Err: ErrConnectionClosed}
	}
	client, err := c.a.acquire(ctx, c.key)
	if err != nil {
		c.st.fail(err)
		return nil, &CommandError{Op: op, Key: c.key, Cmd: cmd, Err: err}
	}
	return client, nil
}

// IsHealthy reports, without I/O, whether the connection is open and the
// key's last lease or command did not lose its connection.
func (c *AdapterConnection) IsHealthy() bool {
	return !c.closed.Load() && c.st.healthy.Load()
}

// TestHealth leases a client and runs the health command on it, bounded by
// the health timeout.
func (c *AdapterConnection) TestHealth() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.a.cfg.healthTimeout)
	defer cancel()
	client, err := c.lease(ctx, OpHealth, c.a.cfg.healthCommand)
	if err != nil {
		return err
	}
	defer c.a.pool.Release(c.key, client)
	err = runHealth(ctx, client, c.key, c.a.cfg.healthCommand)
	if err != nil {
		c.st.fail(err)
	} else {
		c.st.healthy.Store(true)
	}
	return err
}

// Close marks the connection closed: later commands fail with
// ErrConnectionClosed. The pool's connections stay open for other callers.
// It is idempotent.
func (c *AdapterConnection) Close() error {
	c.closed.Store(true)
	return nil
}

// Closed reports whether Close was called.
func (c *AdapterConnection) Closed() bool { return c.closed.Load() }
