package pool

import (
	"context"
	"slices"
	"time"
)

// retireUnhealthy retires e as unhealthy: it gets no new leases, its
// leases in flight finish, it is closed once they end, and
// replaceConnLocked decides whether to dial a replacement. typ is
// EventUnhealthy or EventLost. Only the first retirement counts.
func (p *pool) retireUnhealthy(e *poolEntry, typ HealthEventType, cause error) {
	var fx effects
	fx.retire(e, stUnhealthy, rsUnhealthy, cause)
	if len(fx.changes) == 0 {
		return // already retired
	}
	fx.event(HealthEvent{Type: typ, Key: e.ks.name, ConnID: e.id, Err: cause})
	fx.replace = append(fx.replace, e)
	p.apply(&fx)
}

// replaceRetiredLocked calls replaceConnLocked for each retired entry.
// Caller holds pool.mu.
func (p *pool) replaceRetiredLocked(lost []*poolEntry, fx *effects) {
	for _, e := range lost {
		p.replaceConnLocked(e.ks.name, e, fx)
	}
}

// replaceConnLocked dials a connection for key in the background when
// demand calls for it: the key has waiters (served as usual), or it is a
// warm-up key below WarmupConnections, or lost (the retired connection,
// nil from the health loop) had been leased and was in use or used within
// the last HealthInterval, and the key has no usable connection left.
//
// Backoff: a key that keeps failing to dial opens its circuit (its
// cooldown is the backoff); a warm-up key topped up without a caller
// waiting also follows its circuit's slower background schedule, which
// backs off to WarmupBackoffMax (a key that fails authentication is not
// redialled every health interval for ever); a connection that dies young
// (within the replacement window) without ever being leased is not
// replaced at once, else a server that accepts and then drops every
// connection would be redialled in a loop; demand dials or the health
// loop's next tick (which tops warm-up keys up) take over. It never
// evicts, respects the limits, and dials at most once per key at a time.
// Caller holds pool.mu.
func (p *pool) replaceConnLocked(key string, lost *poolEntry, fx *effects) {
	if p.closed {
		return
	}
	ks := p.keyLocked(key) // the lost connection's removal may have dropped it
	defer p.dropKeyIfIdleLocked(ks)
	if !p.wantReplacementLocked(ks, lost) {
		return
	}
	if ks.dialing > 0 || ks.usedLocked() >= p.cfg.MaxConnectionsPerKey || p.usedLocked() >= p.cfg.MaxConnections {
		return
	}
	bg := ks.waiters.len() == 0 && p.warmKeyLocked(key)
	if c, ok := ks.guard.(*circuit); ok && bg && !c.backgroundAllowed() {
		return
	}
	if ks.guard != nil {
		ev, err := ks.guard.allow()
		fx.event(ev)
		if err != nil {
			return
		}
	}
	p.stats.replacements.Add(1)
	fx.event(HealthEvent{Type: EventReplacing, Key: key})
	p.startDialLocked(ks, context.Background(), bg)
}

// wantReplacementLocked reports whether ks has demand for one more
// connection. Caller holds pool.mu.
func (p *pool) wantReplacementLocked(ks *keyState, lost *poolEntry) bool {
	usable := 0
	for _, e := range ks.list() {
		if e.usable() {
			usable++
		}
	}
	if ks.waiters.len() > 0 {
		return true
	}
	if lost != nil && lost.uses() == 0 && p.nowNano()-lost.created < int64(p.replaceWindowLocked()) {
		return false // died young and unused: back off until the next tick
	}
	if p.warmKeyLocked(ks.name) && usable+ks.dialing < p.cfg.WarmupConnections {
		return true
	}
	return usable == 0 && lost != nil && lost.uses() > 0 && p.usedRecentlyLocked(lost)
}

// warmKeyLocked reports whether key is one the pool keeps warm
// (WarmupKeys, with WarmupConnections > 0). Caller holds pool.mu.
func (p *pool) warmKeyLocked(key string) bool {
	return p.cfg.WarmupConnections > 0 && slices.Contains(p.cfg.WarmupKeys, key)
}

// replaceWindowLocked is HealthInterval, or one minute when health checks
// are off. Caller holds pool.mu.
func (p *pool) replaceWindowLocked() time.Duration {
	if p.cfg.HealthInterval <= 0 {
		return time.Minute
	}
	return p.cfg.HealthInterval
}

// usedRecentlyLocked reports whether e had leases or was released within
// the last HealthInterval (one minute when health checks are off). A
// release not yet seen by a look (see lastUsedAt) counts as recent: at
// worst one replacement dial too many. Caller holds pool.mu.
func (p *pool) usedRecentlyLocked(e *poolEntry) bool {
	now := p.nowNano()
	return e.leases() > 0 || now-e.lastUsedAt(now) < int64(p.replaceWindowLocked())
}

// healthLoop runs the health loop until ctx ends: every
// HealthInterval, shortened by up to 10 % of jitter so that pools started
// together do not probe in step, it probes the connections that are due
// (healthTargets) and tops warm-up keys back up. The jitter only shortens
// the period, so a connection that fails right after a probe is probed
// again within HealthInterval and found within HealthInterval +
// HealthTimeout.
//
// The period runs from the start of one tick to the start of the next, so
// slow probes (up to HealthTimeout) do not stretch it; a tick that took
// longer than the period is followed by the next at once.
func (p *pool) healthLoop(ctx context.Context) {
	var last time.Time // start of the previous tick
	for {
		iv := p.tickInterval()
		if iv <= 0 {
			return
		}
		d := iv - randDuration(iv/10)
		if !last.IsZero() {
			d -= time.Since(last)
		}
		t := time.NewTimer(max(d, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		last = time.Now()
		p.healthTick(ctx, iv)
	}
}

// tickInterval is the health loop's period: HealthInterval, or the
// shortest per-key Interval (PoolHealthMonitor) of the keys in the pool
// when that is shorter; 0 when health checks are off.
func (p *pool) tickInterval() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	iv := p.cfg.HealthInterval
	if iv <= 0 || p.healthCfg == nil {
		return iv
	}
	for key := range p.byKey {
		if k := p.healthCfg.HealthConfigFor(key).Interval; k > 0 && k < iv {
			iv = k
		}
	}
	return iv
}

// healthTick probes the due connections, replaces what is missing and
// records a snapshot in the history. period is the loop's period
// (tickInterval).
func (p *pool) healthTick(ctx context.Context, period time.Duration) {
	_ = p.probeAll(ctx, p.healthTargets(period))
	var fx effects
	p.mu.Lock()
	for _, key := range p.cfg.WarmupKeys {
		p.replaceConnLocked(key, nil, &fx)
	}
	p.mu.Unlock()
	p.apply(&fx)
	p.hist.add(p.GetSnapshot())
}

// healthTargets returns the connections due for a probe: usable, not
// probed (or dialled) within their key's interval, and idle, or busy
// without a release within that interval (a busy connection that keeps
// completing leases proves itself).
//
// "Within the interval" is rounded to the nearest tick of the loop's
// period: a connection is due when its interval ends before the middle of
// the next tick. Compared exactly, a connection probed at one tick is short
// of its interval at the next (its probe was stamped after the tick began,
// and the jittered period is shorter than the interval), so it would wait
// for the tick after, and a dead connection would be found after two
// intervals plus the timeout, not one.
func (p *pool) healthTargets(period time.Duration) []*poolEntry {
	now := p.nowNano()
	half := int64(period / 2)
	var targets []*poolEntry
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ks := range p.byKey {
		iv := int64(p.healthConfig(ks.name, p.cfg).Interval)
		for _, e := range ks.list() {
			if !e.usable() || now-max(e.lastHealth.Load(), e.created) < iv-half {
				continue
			}
			if e.leases() == 0 || now-e.lastUsedAt(now) >= iv-half {
				targets = append(targets, e)
			}
		}
	}
	return targets
}
