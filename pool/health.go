package pool

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// HealthMonitor probes one pooled connection. A pool takes one in
// AdvancedPoolConfig.HealthMonitor (nil probes with keepalive@openssh.com,
// want-reply); HealthCheck and the background health loop (Pool.Start)
// call it.
type HealthMonitor interface {
	// CheckHealth returns nil if client is healthy. ctx is bounded by the
	// probe timeout (HealthTimeout); an implementation must return when ctx
	// ends. It runs outside pool locks, on the checking goroutine, and must
	// not call back into the pool. An error counts as a failed probe.
	CheckHealth(ctx context.Context, key string, client SSHClient) error
}

// healthConfigSource is a monitor that configures health checks per key
// (PoolHealthMonitor). The pool asks it for every probe and at every
// health tick, with its own lock held: HealthConfigFor must be quick and
// must not call the pool. Fields left zero fall back to the pool's config.
type healthConfigSource interface {
	HealthConfigFor(key string) HealthConfig
}

// HealthConfig configures the health checks of one key.
type HealthConfig struct {
	// Interval is how often a connection is probed. Zero means the pool's
	// HealthInterval. The health loop ticks at the shortest interval of
	// the keys in the pool (never slower than HealthInterval), so a key may
	// be probed more often than the others; with HealthInterval ≤ 0 health
	// checks are off for every key.
	Interval time.Duration
	// Timeout bounds one probe; a probe that times out closes the client.
	// Zero means the pool's HealthTimeout.
	Timeout time.Duration
	// Threshold is how many consecutive failed probes mark a connection
	// unhealthy. Zero means 1. A timed-out probe marks it at once.
	Threshold int
	// Command, when set, is run as the probe (a non-zero exit fails it)
	// instead of a keepalive@openssh.com request.
	Command string
}

// keepaliveMonitor checks health with SSHClient.SendKeepalive
// (keepalive@openssh.com with want-reply). It is the default monitor.
type keepaliveMonitor struct{}

// CheckHealth sends one keepalive and returns its error.
func (keepaliveMonitor) CheckHealth(ctx context.Context, _ string, c SSHClient) error {
	_, err := c.SendKeepalive(ctx)
	return err
}

// PoolHealthMonitor is a HealthMonitor with per-key configuration: each
// key is probed with keepalive@openssh.com (want-reply) or with a command,
// at its own interval, timeout and failure threshold. Create it with
// NewPoolHealthMonitor and set it as AdvancedPoolConfig.HealthMonitor. Its
// HealthConfigFor is asked with the pool's lock held. It is safe for
// concurrent use; SetKeyConfig applies from the next probe.
type PoolHealthMonitor struct {
	// mu guards def and keys.
	mu   sync.RWMutex
	def  HealthConfig
	keys map[string]HealthConfig
}

// NewPoolHealthMonitor returns a monitor that applies def to every key
// without its own configuration.
func NewPoolHealthMonitor(def HealthConfig) *PoolHealthMonitor {
	return &PoolHealthMonitor{def: def, keys: map[string]HealthConfig{}}
}

// SetKeyConfig sets key's health configuration.
func (m *PoolHealthMonitor) SetKeyConfig(key string, c HealthConfig) {
	m.mu.Lock()
	m.keys[key] = c
	m.mu.Unlock()
}

// HealthConfigFor returns key's configuration (the default if none).
func (m *PoolHealthMonitor) HealthConfigFor(key string) HealthConfig {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if c, ok := m.keys[key]; ok {
		return c
	}
	return m.def
}

// CheckHealth probes client with key's probe: its Command (a non-zero
// exit is a failure), else a keepalive.
func (m *PoolHealthMonitor) CheckHealth(ctx context.Context, key string, c SSHClient) error {
	cmd := m.HealthConfigFor(key).Command
	if cmd == "" {
		_, err := c.SendKeepalive(ctx)
		return err
	}
	if _, err := c.Run(ctx, cmd); err != nil {
		return fmt.Errorf("pool: health command: %w", err)
	}
	return nil
}

// healthConfig returns key's effective health configuration.
func (p *pool) healthConfig(key string, base PoolConfig) HealthConfig {
	var c HealthConfig
	if p.healthCfg != nil {
		c = p.healthCfg.HealthConfigFor(key)
	}
	if c.Interval <= 0 {
		c.Interval = base.HealthInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = base.HealthTimeout
	}
	c.Threshold = max(c.Threshold, 1)
	return c
}

// HealthStatus is a pool's overall verdict.
//
// A key is in demand when it has connections or waiters, is one of the
// configured WarmupKeys (the operator asked for it to be kept ready), or a
// Get wanted a new connection for it within the last HealthInterval (one
// minute when health checks are off). A key is down when it is in demand, has no
// usable connection and its circuit is not closed (its dials keep
// failing). The rule is for fleets: one host with bad credentials must not
// fail the readiness probe of a service that reaches a hundred others.
type HealthStatus string

// The verdicts of HealthReport.Status.
const (
	// StatusHealthy: no key is down, every probed connection answered, no
	// connection is unhealthy and every circuit is closed.
	StatusHealthy HealthStatus = "healthy"
	// StatusDegraded: the pool can serve some keys, but some key is down,
	// some probe failed, some connection is unhealthy or some circuit is
	// open or half-open.
	StatusDegraded HealthStatus = "degraded"
	// StatusUnhealthy: the pool is closed, or it can serve nothing: some
	// key is in demand and every key in demand is down. Use it to fail a
	// readiness probe.
	StatusUnhealthy HealthStatus = "unhealthy"
)

// HealthReport is the outcome of one HealthCheck. Its Status follows the
// rule documented on HealthStatus: Unhealthy only when the pool is closed
// or every key in demand is down.
type HealthReport struct {
	// Time is when the check started; Duration how long it took.
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"duration"` // how long the operation took
	// Status is the overall verdict (see HealthStatus for the rule).
	Status HealthStatus `json:"status"`
	// Closed reports that the pool was closed.
	Closed bool `json:"closed,omitempty"`
	// Checked counts probed connections; Healthy and Unhealthy split them.
	Checked   int `json:"checked"`
	Healthy   int `json:"healthy"`
	Unhealthy int `json:"unhealthy"`
	// Failures lists the connections that failed.
	Failures []HealthFailure `json:"failures,omitempty"`
	// Keys reports every key after the probes, sorted by key.
	Keys []KeyHealth `json:"keys,omitempty"`
}

// HealthFailure is one failed probe.
type HealthFailure struct {
	Key    string `json:"key"`     // the key
	ConnID uint64 `json:"conn_id"` // the connection's id
	Err    string `json:"error"`   // the probe's error text
}

// KeyHealth is one key's part of a HealthReport.
type KeyHealth struct {
	Key     string       `json:"key"`                  // the key
	Usable  int          `json:"usable"`               // connections that can take leases
	Waiters int          `json:"waiters,omitempty"`    // Gets waiting for a lease
	Demand  bool         `json:"demand"`               // connections, waiters, a warm-up key, or a Get wanted a connection lately (see HealthStatus)
	Circuit CircuitState `json:"circuit"`              // the key's circuit breaker
	LastErr string       `json:"last_error,omitempty"` // the last dial error while the circuit is not closed
	Conns   []ConnHealth `json:"conns,omitempty"`      // the key's connections, by id
}

// ConnHealth is one connection's part of a HealthReport.
type ConnHealth struct {
	ID        uint64        `json:"id"`                   // the connection's id
	State     EntryState    `json:"state"`                // its state after the probe
	LastCheck time.Time     `json:"last_check,omitzero"`  // the last probe, zero if never
	LastErr   string        `json:"last_error,omitempty"` // the last probe error, if the last probe failed
	RTT       time.Duration `json:"rtt"`                  // the last probe's round trip
	AvgRTT    time.Duration `json:"avg_rtt"`              // its moving average (EWMA, 1/8)
}

// Ready reports whether the verdict is not StatusUnhealthy: the pool is
// open and can serve some key in demand (perhaps not all).
func (r HealthReport) Ready() bool { return r.Status != StatusUnhealthy }

// HealthCheck implements Pool. Every usable connection is probed (up to
// healthParallelism at once); a failure counts toward the key's threshold.
func (p *pool) HealthCheck(ctx context.Context) HealthReport {
	rep := HealthReport{Time: p.clock()}
	p.mu.Lock()
	var targets []*poolEntry
	p.forEachEntryLocked(func(e *poolEntry) {
		if e.usable() {
			targets = append(targets, e)
		}
	})
	p.mu.Unlock()
	errs := p.probeAll(ctx, targets)
	for i, e := range targets {
		switch {
		case errs[i] == errSkipped:
			continue
		case errs[i] != nil:
			rep.Unhealthy++
			rep.Failures = append(rep.Failures, HealthFailure{Key: e.ks.name, ConnID: e.id, Err: errs[i].Error()})
		default:
			rep.Healthy++
		}
		rep.Checked++
	}
	p.fillHealthReport(&rep)
	rep.Duration = p.clock().Sub(rep.Time)
	return rep
}

// LastHealth implements Pool.
func (p *pool) LastHealth() HealthReport {
	rep := HealthReport{Time: p.clock()}
	p.fillHealthReport(&rep)
	return rep
}

// errSkipped marks a probe not run, or cut short, because ctx ended.
var errSkipped = errors.New("pool: probe skipped")

// healthParallelism bounds concurrent probes: a stalled server must not
// hold up the probes of every other connection for a timeout each.
const healthParallelism = 8

// probeAll probes targets concurrently and returns their errors by index.
func (p *pool) probeAll(ctx context.Context, targets []*poolEntry) []error {
	errs := make([]error, len(targets))
	cfg := p.Config()
	var g errgroup.Group
	g.SetLimit(healthParallelism)
	for i, e := range targets {
		if ctx.Err() != nil {
			errs[i] = errSkipped
			continue
		}
		g.Go(func() error {
			errs[i] = p.probe(ctx, e, p.healthConfig(e.ks.name, cfg))
			return nil
		})
	}
	_ = g.Wait() // errors are in errs
	return errs
}

// probe runs the health monitor on e bounded by hc.Timeout and records
// the outcome: RTT, last check and error, consecutive failures. Past the
// threshold e is marked unhealthy; a probe that timed out closes the client
// (a hung request blocks the connection forever).
func (p *pool) probe(ctx context.Context, e *poolEntry, hc HealthConfig) error {
	pctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	trace := HealthCheckData{Key: e.ks.name, ConnID: e.id}
	if t := p.tracer; t != nil && t.HealthCheckStart != nil {
		pctx = t.HealthCheckStart(pctx, trace)
	}
	start := p.clock()
	err := p.health.CheckHealth(pctx, e.ks.name, e.client)
	rtt := p.clock().Sub(start)
	if t := p.tracer; t != nil && t.HealthCheckEnd != nil {
		trace.Duration, trace.Err = rtt, err
		t.HealthCheckEnd(pctx, trace)
	}
	if err != nil && ctx.Err() != nil {
		return errSkipped // the caller (or Close) gave up: says nothing about e
	}
	p.recordProbe(e, rtt, err)
	if err != nil {
		p.probeFailed(e, hc, err, rtt, pctx.Err() == context.DeadlineExceeded)
	}
	return err
}

// probeFailed publishes a failed probe and retires e past its threshold,
// or at once when the probe timed out, closing the client then.
func (p *pool) probeFailed(e *poolEntry, hc HealthConfig, err error, rtt time.Duration, timedOut bool) {
	p.hi.publish(HealthEvent{Type: EventProbeFailed, Key: e.ks.name, ConnID: e.id, Err: err, RTT: rtt})
	if timedOut || int64(e.healthFailures.Load()) >= int64(hc.Threshold) {
		p.retireUnhealthy(e, EventUnhealthy, err)
	}
	if timedOut {
		_ = e.client.Close() // its leases fail fast; their release removes it
	}
}

// recordProbe stores a probe's outcome on e and counts it.
func (p *pool) recordProbe(e *poolEntry, rtt time.Duration, err error) {
	e.lastHealth.Store(p.nowNano())
	p.stats.healthChecks.Add(1)
	if err != nil {
		e.healthFailures.Add(1)
		p.stats.healthFailures.Add(1)
		msg := err.Error()
		e.lastErr.Store(&msg)
		return
	}
	e.healthFailures.Store(0)
	e.lastErr.Store(nil)
	e.rtt.Store(int64(rtt))
	if old := e.avgRTT.Load(); old != 0 {
		rtt = time.Duration((7*old + int64(rtt)) / 8)
	}
	e.avgRTT.Store(int64(rtt))
}

// fillHealthReport adds the per-key part and the verdict to rep.
func (p *pool) fillHealthReport(rep *HealthReport) {
	p.mu.Lock()
	rep.Closed = p.closed
	now, window := p.nowNano(), int64(p.replaceWindowLocked())
	for _, ks := range p.byKey {
		kh := keyHealthLocked(ks)
		kh.Demand = kh.Usable > 0 || len(kh.Conns) > 0 || kh.Waiters > 0 || now-ks.wanted < window ||
			p.warmKeyLocked(ks.name)
		rep.Keys = append(rep.Keys, kh)
	}
	p.mu.Unlock()
	sort.Slice(rep.Keys, func(i, j int) bool { return rep.Keys[i].Key < rep.Keys[j].Key })
	rep.Status = verdict(rep)
}

// keyHealthLocked reports ks. The caller holds pool.mu.
func keyHealthLocked(ks *keyState) KeyHealth {
	kh := KeyHealth{Key: ks.name, Waiters: ks.waiters.len()}
	var last error
	kh.Circuit, last = circuitInfoLocked(ks)
	if last != nil {
		kh.LastErr = last.Error()
	}
	for _, e := range ks.list() {
		st := e.current()
		if st <= stActive {
			kh.Usable++
		}
		ch := ConnHealth{ID: e.id, State: st.public(), LastCheck: nanoTime(e.lastHealth.Load()),
			RTT: time.Duration(e.rtt.Load()), AvgRTT: time.Duration(e.avgRTT.Load())}
		if m := e.lastErr.Load(); m != nil {
			ch.LastErr = *m
		}
		kh.Conns = append(kh.Conns, ch)
	}
	return kh
}

// verdict applies the rule documented on HealthStatus.
func verdict(rep *HealthReport) HealthStatus {
	if rep.Closed {
		return StatusUnhealthy
	}
	demand, down := 0, 0
	degraded := rep.Unhealthy > 0
	for _, k := range rep.Keys {
		if k.Demand {
			demand++
			if k.Usable == 0 && k.Circuit != CircuitClosed {
				down++
			}
		}
		if k.Circuit != CircuitClosed || k.Usable < len(k.Conns) {
			degraded = true
		}
	}
	switch {
	case demand > 0 && down == demand:
		return StatusUnhealthy
	case degraded:
		return StatusDegraded
	}
	return StatusHealthy
}

// MarkUnhealthy implements Pool.
func (p *pool) MarkUnhealthy(client SSHClient, cause error) error {
	l, err := p.leaseOf("MarkUnhealthy", "", client)
	if err != nil {
		return err
	}
	if l.released.Load() {
		return p.misuse("MarkUnhealthy", l.e.ks.name, ErrLeaseReleased)
	}
	p.markUnhealthy(l.e, cause)
	return nil
}

// markUnhealthy retires e as unhealthy; it closes once its leases end.
func (p *pool) markUnhealthy(e *poolEntry, cause error) {
	p.retireUnhealthy(e, EventUnhealthy, cause)
}
