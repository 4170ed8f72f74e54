package pool

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a keyed, multiplexing SSH connection pool. Create one with
// NewPool or New; all methods are safe for concurrent use.
type Pool interface {
	// Get leases a slot on a connection to key, dialling one if every
	// connection is full and the limits allow, else waiting (FIFO) until a
	// slot frees, ctx ends or WaitTimeout passes. The returned handle
	// implements SSHClient; return it with Release or its Close method
	// (which releases the lease and does not close the shared connection).
	// After Close, Get returns ErrPoolClosed. A wait that ends returns a
	// *WaitError wrapping ctx.Err(); a failed dial a *DialError.
	Get(ctx context.Context, key string) (SSHClient, error)
	// Release returns a lease obtained from Get for key. Releasing twice,
	// a nil or foreign client, or after Close is safe: it returns
	// ErrLeaseReleased or ErrForeignClient (or nil after
	// Close for a valid lease) and never corrupts counts.
	Release(key string, client SSHClient) error
	// Run gets a lease on key, runs cmd, and releases the lease. Output is
	// captured in the Result. A connection-level failure marks the
	// connection unhealthy; a session-limit refusal is retried up to
	// MaxRetries times with short backoff; a connection lost before the
	// command started (ErrNotStarted) is retried on another connection.
	Run(ctx context.Context, key, cmd string) (Result, error)
	// Exec is Run for a full Command (stdin, streaming output, env).
	Exec(ctx context.Context, key string, c Command) (Result, error)
	// Start starts the background loops, owned by the pool until Close:
	// health probes every HealthInterval and the
	// cleanup pass; then it warms the pool up (Warmup) and
	// returns Warmup's error. ctx bounds only the warm-up. Calling it again
	// only warms up again. Connections' death watchers run whether or not
	// the pool was started.
	Start(ctx context.Context) error
	// Warmup dials WarmupConnections connections for each WarmupKeys key,
	// up to the limits. Failures are counted, traced and returned joined;
	// they do not harm the pool.
	Warmup(ctx context.Context) error
	// RetryNow tells the pool that something that may fix failing dials
	// changed: credentials, known_hosts, the configuration or the targets.
	// The circuits of keys (every key when none is given) let their next
	// dial through at once and restart their schedule (a trial in flight
	// read the old inputs: its failure does not count), and warm-up keys
	// that lack connections dial at once. It returns how many circuits it
	// rearmed. app calls it after a configuration reload; the pool calls
	// it itself when its factory is a ChangeDetector that reports a
	// changed input. It does no I/O and never blocks on a dial.
	RetryNow(keys ...string) int
	// HealthCheck probes every usable connection with the health monitor
	// (keepalive by default), each bounded by HealthTimeout, marks failures
	// unhealthy (past the key's threshold), and reports the outcome per key
	// and connection with an overall verdict (HealthReport.Status).
	HealthCheck(ctx context.Context) HealthReport
	// LastHealth reports the pool's health as last found, without probing:
	// the state that the health loop's probes, the connections' death
	// watchers and the dials left, judged by HealthCheck's rule
	// (HealthStatus). Checked, Healthy and Unhealthy are 0 and Failures
	// empty: no probe runs. It takes the pool lock once and does no I/O,
	// so a readiness probe can call it on every request.
	LastHealth() HealthReport
	// SubscribeHealth returns a channel receiving the pool's HealthEvents
	// and a cancel function that unsubscribes and closes the channel
	// (idempotent). Sends never block the pool: when the channel's buffer
	// (at least 1) is full, the event is dropped and counted in
	// Snapshot.EventsDropped.
	SubscribeHealth(buffer int) (<-chan HealthEvent, func())
	// DropIdle closes key's idle connections now (ReasonIdle) and returns
	// how many it closed. Busy connections are left alone.
	DropIdle(key string) int
	// MarkUnhealthy marks the connection behind a lease unhealthy: it gets
	// no new leases and closes when its leases end.
	MarkUnhealthy(client SSHClient, cause error) error
	// GetSnapshot returns the current statistics: gauges and cumulative
	// counters (see Snapshot). Gauges, Gets and LeasesOutstanding are read
	// together under the pool's lock, the other counters one by one
	// without it: a snapshot taken under load is consistent per field, not
	// across fields.
	GetSnapshot() Snapshot
	// History returns the past snapshots, oldest first: the health loop
	// (Start) records one at the end of every tick, about one per
	// HealthInterval, and keeps the last HistorySize. Empty before Start
	// or with health checks off.
	History() []Snapshot
	// Entries returns metadata of every open connection, sorted by key and
	// id.
	Entries() []EntryInfo
	// Leases returns the outstanding leases held at least minHeld, longest
	// first. Leases are tracked only while LeakThreshold > 0 (it costs a
	// clock read and a map store per Get); otherwise it returns nil.
	Leases(minHeld time.Duration) []LeaseInfo
	// SetEvictionStrategy switches the eviction strategy on the live pool;
	// nil restores LRU.
	SetEvictionStrategy(s EvictionStrategy)
	// UpdateConfig validates cfg and applies it: limits apply to new leases
	// at once and idle connections over lowered limits are closed. A bad
	// config returns an error and leaves the pool unchanged.
	UpdateConfig(cfg PoolConfig) error
	// Config returns the current configuration with defaults applied.
	Config() PoolConfig
	// Close closes the pool at once: new Gets fail, waiters get
	// ErrPoolClosed, every connection is closed (leases in flight lose
	// theirs). It returns when every goroutine the pool started has ended.
	// It is idempotent.
	Close() error
	// CloseContext closes the pool gracefully: like Close, but connections
	// with leases are closed when their leases end, or when ctx ends,
	// whichever is first. It returns ctx.Err() if it had to force.
	CloseContext(ctx context.Context) error
}

// pool implements Pool.
//
// Hot path (Get hit, Release without waiters) takes no lock: the key is
// found in the key table (keytable.go: sharded copy-on-write hash tables
// whose slot holds a key's only connection), a key with several
// connections lists them in a copy-on-write slice, and a slot is reserved
// with a CAS on the entry's ctl word. Everything else (waiters,
// dials, eviction, close) runs under mu.
//
// Lock order: mu before history.mu and before a PoolHealthMonitor's
// lock (HealthConfigFor is called with mu held). No I/O (dial, Close, probes) and no
// tracer call happens with mu held: changes made under mu are collected in
// an effects value and applied after unlocking.
type pool struct {
	factory ConnectionFactory
	health  HealthMonitor // never nil: keepaliveMonitor by default
	// healthCfg is health as a healthConfigSource (per-key health
	// configuration, as PoolHealthMonitor has), or nil.
	healthCfg healthConfigSource
	tracer    *Tracer          // a copy of NewPool's; nil when it sets no hook
	clock     func() time.Time // never nil
	stats     poolStats
	hist      *history
	cfgErr    error // non-nil when the constructor's config was invalid

	ctx    context.Context // the pool's own context: bounds dials; canceled by Close
	cancel context.CancelFunc

	keys        keyTable // lock-free view of byKey; written under mu
	maxSessions atomic.Int64
	balance     atomic.Int32 // LoadBalancing.code
	nStarved    atomic.Int32 // len(starved), plus keys tentatively starving under mu
	shut        atomic.Bool  // set by Close, read by the lock-free paths
	overLimit   atomic.Bool  // busy connections exceed lowered limits: Release enforces them
	stampLeases atomic.Bool  // leases record their start (a Release hook or LeakThreshold)
	trackLeases atomic.Bool  // leases are registered in leases (LeakThreshold > 0)
	leases      sync.Map     // *lease → struct{}: outstanding leases while trackLeases
	stacks      sync.Map     // *lease → []uintptr: the Get's stack, with DebugLeaks
	nextID      atomic.Uint64

	// mu guards cfg, byKey, open, dialing, closingConns, starved, closed,
	// strategy, drained, newGuard, watched, polling, the mu-guarded fields
	// of every keyState, and meta/removed of every entry.
	mu           sync.Mutex
	cfg          PoolConfig
	byKey        map[string]*keyState
	open         int // connections in the pool (every state but closed)
	dialing      int // dials in flight
	closingConns int // removed connections whose Close has not returned yet
	starved      []*keyState
	orphans      map[*poolEntry]struct{} // force-closed with leases still out
	closed       bool
	strategy     EvictionStrategy
	drained      chan struct{} // closed once closed && open == 0
	// newGuard, when set (tests), gives each new key this guard instead of
	// the circuit breaker that a key gets at its first failed dial.
	newGuard func(key string) dialGuard
	// watched holds the keys whose circuit is open for a permanent
	// failure while the factory is a ChangeDetector; polling is set while
	// the change poller runs (see watchChangesLocked).
	watched map[*keyState]struct{}
	polling bool

	detector ChangeDetector // the factory as a ChangeDetector, or nil

	watchers   []*watchShard // guarded by mu: death watchers
	hi         healthEvents  // health-event subscribers
	cleanup    *cleanupLoop
	debugLeaks atomic.Bool // record Get stacks (DebugLeaks and LeakThreshold > 0)
	started    bool        // guarded by mu: Start has started the loops

	wg        sync.WaitGroup // dial, watcher and health-loop goroutines
	closeOnce sync.Once
	closeDone chan struct{} // closed when Close has finished
	closeErr  error
}

// NewPool returns a pool that dials through factory. It does no I/O and
// starts no goroutine. config gets defaults applied; if it is invalid
// (ValidatePoolConfig), the pool is returned anyway and every Get, Run and
// Start returns the validation error: use New to have it at once. tracer
// may be nil. A nil factory is a programmer error and panics.
func NewPool(factory ConnectionFactory, config PoolConfig, tracer *Tracer) Pool {
	return newPool(factory, config, tracer)
}

// New is NewPool for callers that want a bad configuration refused at
// construction: when config (with defaults applied) is invalid, it returns
// no pool and the validation error, "pool: invalid config: " followed by
// one *FieldError per field outside its range (errors.As finds the first).
func New(factory ConnectionFactory, config PoolConfig, tracer *Tracer) (Pool, error) {
	if factory == nil {
		panic("pool: New with nil ConnectionFactory")
	}
	config.SetDefaults()
	if err := ValidatePoolConfig(config); err != nil {
		return nil, fmt.Errorf("pool: invalid config: %w", err)
	}
	return newPool(factory, config, tracer), nil
}

func newPool(factory ConnectionFactory, config PoolConfig, tracer *Tracer) *pool {
	if factory == nil {
		panic("pool: NewPool with nil ConnectionFactory")
	}
	config.SetDefaults()
	p := &pool{factory: factory, health: config.Advanced.HealthMonitor, clock: config.Advanced.Clock, keys: keyTable{seed: maphash.MakeSeed()},
		cfgErr: ValidatePoolConfig(config), byKey: map[string]*keyState{}, orphans: map[*poolEntry]struct{}{},
		strategy: lru{}, drained: make(chan struct{}), closeDone: make(chan struct{}),
		watched: map[*keyState]struct{}{}}
	p.detector, _ = factory.(ChangeDetector)
	if p.cfgErr != nil {
		p.cfgErr = fmt.Errorf("pool: invalid config: %w", p.cfgErr)
		config.HistorySize = max(min(config.HistorySize, maxHistoryLimit), 1)
	}
	if p.health == nil {
		p.health = keepaliveMonitor{}
	}
	p.healthCfg, _ = p.health.(healthConfigSource)
	if p.clock == nil {
		p.clock = time.Now
	}
	p.cleanup = &cleanupLoop{p: p}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.tracer = tracer.traced()
	if p.tracer != nil {
		p.hi.hook = p.tracer.HealthEvent
	}
	p.hi.clock = p.clock
	p.hist = newHistory(config.HistorySize)
	p.stats.gauges = p.fillGauges
	p.applyHotLocked(config)
	return p
}

// usedLocked counts connections against MaxConnections: open, being
// dialled, and removed but still closing (their TCP connection is still
// up, so a new dial must not overtake the close; TestStress caught 7
// clients open under MaxConnections 5 before closes were counted).
func (p *pool) usedLocked() int { return p.open + p.dialing + p.closingConns }

// applyHotLocked stores cfg and the copies the hot path reads. The caller
// holds mu (or owns p exclusively).
func (p *pool) applyHotLocked(cfg PoolConfig) {
	p.cfg = cfg
	p.maxSessions.Store(int64(cfg.MaxSessionsPerConnection))
	code, _ := cfg.LoadBalancing.code()
	p.balance.Store(code)
	p.trackLeases.Store(cfg.LeakThreshold > 0)
	p.stampLeases.Store(cfg.LeakThreshold > 0 || p.tracer != nil && p.tracer.Release != nil)
	p.debugLeaks.Store(cfg.LeakThreshold > 0 && cfg.Advanced.DebugLeaks)
}

func (p *pool) nowNano() int64 { return p.clock().UnixNano() }

// Get implements Pool.
func (p *pool) Get(ctx context.Context, key string) (SSHClient, error) {
	if t := p.tracer; t != nil && (t.GetStart != nil || t.GetEnd != nil) {
		return p.getTraced(ctx, t, key)
	}
	if l := p.getFast(ctx, key); l != nil {
		if p.debugLeaks.Load() {
			p.recordStack(l)
		}
		return l, nil
	}
	l, _, err := p.getSlow(ctx, key)
	if err != nil {
		return nil, err
	}
	if p.debugLeaks.Load() {
		p.recordStack(l)
	}
	return l, nil
}

// getFast leases a slot without locking when the key has a usable
// connection with a free slot and nobody is queued before the caller.
func (p *pool) getFast(ctx context.Context, key string) *lease {
	single, ks := p.keys.load(key)
	var fx effects
	pk := p.lockFree(&fx)
	var e *poolEntry
	switch {
	case single != nil: // the key's only connection: ks stays out of cache
		if pk.take(single) {
			e = single
		}
	case ks == nil:
		return nil
	default: // queued waiters show as ctlQueued, which pk refuses
		e = pk.pick(ks, affinity(ctx))
	}
	if fx.pending() {
		p.apply(&fx)
	}
	if e == nil {
		return nil
	}
	return p.newLease(e)
}

// getTraced is Get calling t's Get hooks.
func (p *pool) getTraced(ctx context.Context, t *Tracer, key string) (SSHClient, error) {
	start := p.clock()
	d := GetData{Key: key}
	if t.GetStart != nil {
		ctx = t.GetStart(ctx, d)
	}
	l := p.getFast(ctx, key)
	var err error
	if l == nil {
		l, d.Waited, err = p.getSlow(ctx, key)
	}
	d.Hit, d.Duration, d.Err = err == nil && d.Waited == 0, p.clock().Sub(start), err
	if err == nil {
		d.ConnID = l.e.id
	}
	if t.GetEnd != nil {
		t.GetEnd(ctx, d)
	}
	if err != nil {
		return nil, err
	}
	if p.debugLeaks.Load() {
		p.recordStack(l)
	}
	return l, nil
}

// Release implements Pool.
func (p *pool) Release(key string, client SSHClient) error {
	l, err := p.leaseOf("Release", key, client)
	if err != nil {
		return err
	}
	if err := l.release(); err != nil {
		return err
	}
	if l.e.name != key {
		return p.misuse("Release", key, fmt.Errorf("%w: released %q as %q", ErrKeyMismatch, l.e.name, key))
	}
	return nil
}

// leaseOf returns client as a lease of this pool, or a misuse error.
func (p *pool) leaseOf(op, key string, client SSHClient) (*lease, error) {
	if client == nil {
		return nil, p.misuse(op, key, fmt.Errorf("%w: nil", ErrForeignClient))
	}
	l, ok := client.(*lease)
	if !ok || l == nil || l.p != p {
		return nil, p.misuse(op, key, ErrForeignClient)
	}
	return l, nil
}

// misuse counts and traces a tolerated caller error and returns err.
func (p *pool) misuse(op, key string, err error) error {
	p.stats.misuse.Add(1)
	if t := p.tracer; t != nil && t.Misuse != nil {
		t.Misuse(MisuseData{Key: key, Op: op, Err: err})
	}
	return err
}

// Close implements Pool.
func (p *pool) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.CloseContext(ctx) // the forced close is what Close means
	return nil
}

// CloseContext implements Pool.
func (p *pool) CloseContext(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.closeErr = p.shutdown(ctx)
		close(p.closeDone)
	})
	<-p.closeDone
	return p.closeErr
}

// shutdown stops Gets, fails waiters, retires every connection, waits for
// leases to end or ctx, then force-closes and waits for dials.
func (p *pool) shutdown(ctx context.Context) error {
	var fx effects
	p.mu.Lock()
	p.closed = true
	p.shut.Store(true)
	for _, ks := range p.byKey {
		p.failWaitersLocked(ks, ErrPoolClosed)
		for _, e := range ks.list() {
			fx.retire(e, stDraining, rsPoolClosed, nil)
		}
	}
	p.reapLocked(&fx)
	p.checkDrainedLocked()
	p.mu.Unlock()
	p.apply(&fx)
	p.cancel()
	p.cleanup.stop()
	err := p.drain(ctx)
	p.wg.Wait()
	return err
}

// drain waits until every connection is closed or ctx ends; then it
// force-closes what is left and returns ctx's error.
func (p *pool) drain(ctx context.Context) error {
	select {
	case <-p.drained:
		return nil
	default:
	}
	select {
	case <-p.drained:
		return nil
	case <-ctx.Done():
		p.forceClose()
		return fmt.Errorf("pool: close: forced with leases outstanding: %w", ctx.Err())
	}
}

// forceClose closes every remaining connection, leases or not.
func (p *pool) forceClose() {
	var fx effects
	p.mu.Lock()
	for _, ks := range p.byKey {
		for _, e := range ks.list() {
			p.removeLocked(e, &fx)
		}
	}
	p.mu.Unlock()
	p.apply(&fx)
}

// checkDrainedLocked closes drained once the pool is closed and empty.
func (p *pool) checkDrainedLocked() {
	if p.closed && p.open == 0 && p.closingConns == 0 {
		select {
		case <-p.drained:
		default:
			close(p.drained)
		}
	}
}

// GetSnapshot implements Pool.
func (p *pool) GetSnapshot() Snapshot { return p.stats.GetSnapshot() }

// History implements Pool.
func (p *pool) History() []Snapshot { return p.hist.list() }

// fillGauges sets the point-in-time fields of s under mu.
func (p *pool) fillGauges(s *Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.Time = p.clock()
	s.MaxConnections = p.cfg.MaxConnections
	s.Keys, s.Total, s.Dialing = len(p.byKey), p.open, p.dialing
	s.Gets = p.stats.foldedUses.Load()
	for _, ks := range p.byKey {
		s.Waiting += ks.waiters.len()
		for _, e := range ks.list() {
			countState(s, e.current())
			s.Gets += e.uses()
			s.LeasesOutstanding += e.leases()
		}
	}
	for e := range p.orphans {
		s.LeasesOutstanding += e.leases()
	}
	s.Healthy = s.Active + s.Idle
	s.EventsDropped = p.hi.dropped.Load()
}

func countState(s *Snapshot, st stateCode) {
	switch st {
	case stIdle:
		s.Idle++
	case stActive:
		s.Active++
	case stUnhealthy:
		s.Unhealthy++
	default:
		s.Draining++
	}
}

// Config implements Pool.
func (p *pool) Config() PoolConfig {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cfg
	c.WarmupKeys = append([]string(nil), c.WarmupKeys...)
	return c
}

// UpdateConfig implements Pool.
func (p *pool) UpdateConfig(cfg PoolConfig) error {
	cfg.SetDefaults()
	if err := ValidatePoolConfig(cfg); err != nil {
		return fmt.Errorf("pool: update config: %w", err)
	}
	var fx effects
	p.mu.Lock()
	// The clock and the health monitor are fixed at construction.
	cfg.Advanced.Clock, cfg.Advanced.HealthMonitor = p.cfg.Advanced.Clock, p.cfg.Advanced.HealthMonitor
	if p.closed {
		p.mu.Unlock()
		return ErrPoolClosed
	}
	p.applyHotLocked(cfg)
	p.cfgErr = nil
	p.enforceLimitsLocked(&fx)
	for _, ks := range p.byKey {
		p.serveKeyLocked(ks, &fx)
	}
	p.serveStarvedLocked(&fx)
	p.mu.Unlock()
	p.hist.resize(cfg.HistorySize)
	p.apply(&fx)
	return nil
}

// enforceLimitsLocked closes idle connections over lowered limits: per key
// first, then pool-wide by the eviction strategy. While busy connections
// keep a limit exceeded, overLimit makes Release call it again whenever a
// connection goes idle.
func (p *pool) enforceLimitsLocked(fx *effects) {
	over := false
	for _, ks := range p.byKey {
		for _, e := range ks.list() {
			if ks.open <= p.cfg.MaxConnectionsPerKey {
				break
			}
			if e.tryEvict(rsLimit) {
				fx.changes = append(fx.changes, stateChange{e: e, from: stIdle})
				p.removeLocked(e, fx)
			}
		}
		over = over || ks.open > p.cfg.MaxConnectionsPerKey
	}
	for p.open > p.cfg.MaxConnections && p.evictLocked(rsLimit, fx) {
	}
	p.overLimit.Store(over || p.open > p.cfg.MaxConnections)
}

// enforceLimits is enforceLimitsLocked for Release.
func (p *pool) enforceLimits() {
	var fx effects
	p.mu.Lock()
	p.enforceLimitsLocked(&fx)
	p.mu.Unlock()
	p.apply(&fx)
}

// Warmup implements Pool.
func (p *pool) Warmup(ctx context.Context) error {
	if err := p.usable(); err != nil {
		return err
	}
	cfg := p.Config()
	return p.warmup(ctx, cfg.WarmupKeys, cfg.WarmupConnections, cfg.Advanced.WarmupParallelism)
}

// Start implements Pool.
func (p *pool) Start(ctx context.Context) error {
	if err := p.usable(); err != nil {
		return err
	}
	p.startLoops()
	return p.Warmup(ctx)
}

// startLoops starts the health loop and the cleanup manager once, on the
// pool's context (Close cancels it and waits for both).
func (p *pool) startLoops() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.started {
		return
	}
	p.started = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.healthLoop(p.ctx)
	}()
	p.cleanup.start(p.ctx)
}

// Health implements Pool.
// SubscribeHealth implements Pool.
func (p *pool) SubscribeHealth(buffer int) (<-chan HealthEvent, func()) {
	return p.hi.subscribe(buffer)
}

// DropIdle implements Pool.
func (p *pool) DropIdle(key string) int {
	ks := p.keys.state(key)
	if ks == nil {
		return 0
	}
	n := 0
	for _, e := range ks.list() {
		if p.closeIdle(e, rsIdle) {
			n++
		}
	}
	return n
}

// usable returns ErrPoolClosed after Close, or the config error.
func (p *pool) usable() error {
	if p.shut.Load() {
		return ErrPoolClosed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfgErr
}
