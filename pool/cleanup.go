package pool

import (
	"context"
	"sync"
	"time"
)

// cleanupLoop runs the pool's cleanup pass in the background: it closes
// connections idle past MaxIdleTime, retires those older than MaxLifetime
// (jittered by LifetimeJitter; a leased one closes when its leases end),
// shrinks the pool to lowered limits, and reports leases held past
// LeakThreshold. It runs every CleanupInterval (at most every MaxIdleTime
// and LeakThreshold) and re-arms sooner when the next expiry (idle,
// lifetime or leak) is nearer. Every close is traced
// (Tracer.StateChange, Tracer.ConnClose) and counted in ClosedByReason.
//
// Pool.Start starts it and Close stops it.
type cleanupLoop struct {
	p *pool

	// mu guards cancel and done.
	mu     sync.Mutex
	cancel context.CancelFunc // stops the running loop; nil when stopped
	done   chan struct{}      // closed when the running loop has ended
}

// start starts the cleanup loop on a goroutine it owns; it ends
// when ctx ends or stop is called. Starting a running loop does
// nothing. A CleanupInterval below zero disables the loop.
func (c *cleanupLoop) start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		return
	}
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		c.loop(ctx)
	}(c.done)
}

// stop stops the loop and waits for it to end. It is idempotent.
func (c *cleanupLoop) stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.cancel = nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// loop runs passes until ctx ends.
func (c *cleanupLoop) loop(ctx context.Context) {
	for {
		cfg := c.p.Config()
		if cfg.CleanupInterval <= 0 {
			return
		}
		wait := cleanupWait(cfg)
		if next := c.pass(); next > 0 {
			wait = min(wait, time.Duration(next-c.p.nowNano()))
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// cleanupWait is the longest pause after a pass: CleanupInterval, but no
// more than MaxIdleTime or LeakThreshold, since a connection released or a
// lease taken just after the pass expires that long after it.
func cleanupWait(cfg PoolConfig) time.Duration {
	wait := cfg.CleanupInterval
	for _, d := range []time.Duration{cfg.MaxIdleTime, cfg.LeakThreshold} {
		if d > 0 {
			wait = min(wait, d)
		}
	}
	return wait
}

// pass runs one cleanup pass and returns when the next expiry is due
// (unix nanos, 0 if none).
func (c *cleanupLoop) pass() int64 {
	next := c.cleanupIdleConnections()
	c.enforceConnectionLimits()
	if n := c.p.reportLeaks(); n > 0 && (next == 0 || n < next) {
		next = n
	}
	return next
}

// cleanupIdleConnections closes idle connections past MaxIdleTime or
// MaxLifetime and retires leased ones past MaxLifetime (they close when
// their leases end). It returns the next idle or lifetime expiry (unix
// nanos, 0 if none).
func (c *cleanupLoop) cleanupIdleConnections() int64 {
	p := c.p
	cfg := p.Config()
	now := p.nowNano()
	var entries []*poolEntry
	p.mu.Lock()
	p.forEachEntryLocked(func(e *poolEntry) { entries = append(entries, e) })
	p.mu.Unlock()
	var next int64
	for _, e := range entries {
		if at := c.expire(e, cfg, now); at > 0 && (next == 0 || at < next) {
			next = at
		}
	}
	return next
}

// expire closes or retires e if it expired and returns its next expiry.
func (c *cleanupLoop) expire(e *poolEntry, cfg PoolConfig, now int64) int64 {
	p := c.p
	if !e.usable() {
		return 0
	}
	if e.expires != 0 && now >= e.expires {
		if !p.closeIdle(e, rsLifetime) {
			var fx effects
			fx.retire(e, stDraining, rsLifetime, nil)
			p.apply(&fx)
		}
		return 0
	}
	next := e.expires
	if cfg.MaxIdleTime > 0 && e.leases() == 0 {
		idleAt := e.lastUsedAt(now) + int64(cfg.MaxIdleTime)
		if now >= idleAt {
			if p.closeIdle(e, rsIdle) {
				return 0
			}
		} else if next == 0 || idleAt < next {
			next = idleAt
		}
	}
	return next
}

// enforceConnectionLimits closes idle connections over the current limits
// (after UpdateConfig lowered them).
func (c *cleanupLoop) enforceConnectionLimits() { c.p.enforceLimits() }
