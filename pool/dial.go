package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sshpool/sshpool/failure"
)

// startDialLocked starts one dial for ks on a pool goroutine. vctx gives
// the dial its values (not its cancellation). bg marks a background dial
// of a warm-up key (no caller asked for it): its failure advances the
// key's background schedule.
func (p *pool) startDialLocked(ks *keyState, vctx context.Context, bg bool) {
	ks.dialing++
	p.dialing++
	timeout := p.cfg.DialTimeout
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		id, c, err := p.dialOnce(context.WithoutCancel(vctx), ks.name, timeout)
		p.dialDone(ks, id, c, err, bg)
	}()
}

// dialOnce runs the factory's Dial bounded by timeout and by the pool's
// context (Close cancels it), traced and counted. Errors come back as
// *DialError. ctx may carry its own cancellation (Warmup's caller).
func (p *pool) dialOnce(ctx context.Context, key string, timeout time.Duration) (uint64, SSHClient, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	id := p.nextID.Add(1)
	trace := DialData{Key: key}
	if t := p.tracer; t != nil && t.DialStart != nil {
		ctx = t.DialStart(ctx, trace)
	}
	start := p.clock()
	c, err := p.factory.Dial(ctx, key)
	if err == nil && c == nil {
		err = errNilConnection
	}
	d := p.clock().Sub(start)
	p.stats.dials.Add(1)
	p.stats.dialNanos.Add(int64(d))
	p.stats.dialLatency.Observe(d)
	trace.ConnID, trace.Duration = id, d
	if err != nil {
		p.stats.dialFailures.Add(1)
		err = &DialError{Key: key, Kind: failure.Classify(err), Err: err}
		trace.ConnID, trace.Err, trace.Kind = 0, err, failure.Classify(err)
	}
	if t := p.tracer; t != nil && t.DialEnd != nil {
		t.DialEnd(ctx, trace)
	}
	return id, c, err
}

// dialDone adds a dialled client to ks and serves its waiters, or fails
// them with the dial's error: the factory already retried transient
// failures, so the pool does not redial for them (permanent errors such as
// authentication must never be retried).
func (p *pool) dialDone(ks *keyState, id uint64, c SSHClient, err error, bg bool) {
	var fx effects
	p.mu.Lock()
	ks.dialing--
	p.dialing--
	p.recordDialLocked(ks, err, bg, &fx)
	switch {
	case err != nil:
		p.failWaitersLocked(ks, err)
	case p.closed:
		fx.orphans = append(fx.orphans, c)
	default:
		p.addEntryLocked(ks, id, c)
		p.serveKeyLocked(ks, &fx)
	}
	p.serveStarvedLocked(&fx)
	p.dropKeyIfIdleLocked(ks)
	p.mu.Unlock()
	p.apply(&fx)
}

// recordDialLocked tells ks's guard a dial's outcome. A key gets its
// circuit breaker at its first failed dial and drops it once a dial
// succeeds, so healthy keys carry none (memory per idle connection). A
// failed background dial (bg) is also counted as a warm-up failure, and
// one that failed permanently advances the key's background schedule (a
// server that is down is topped up again at each tick: it costs a refused
// connection, and the key is warm again soon after the server is back).
func (p *pool) recordDialLocked(ks *keyState, err error, bg bool, fx *effects) {
	if ks.guard == nil && err != nil && p.newGuard == nil {
		ks.guard = p.newCircuit(ks.name)
	}
	if ks.guard == nil {
		return
	}
	fx.event(ks.guard.record(err))
	c, ok := ks.guard.(*circuit)
	if !ok {
		return
	}
	if bg && err != nil && failure.Classify(err) != failure.Canceled {
		p.stats.warmupFailures.Add(1)
		if failure.Classify(err).Permanent() {
			fx.event(c.backgroundFailed(err, p.replaceWindowLocked()))
		}
	}
	if err != nil && c.state != phaseClosed {
		p.watchChangesLocked(ks, err)
	}
	if c.quiet() {
		ks.guard = nil
	}
}

// warmup dials up to n connections for each key, keys in parallel (at
// most par at once), each key's dials one after another.
func (p *pool) warmup(ctx context.Context, keys []string, n, par int) error {
	var (
		mu   sync.Mutex // guards errs
		errs []error
	)
	var g errgroup.Group
	g.SetLimit(par)
	for _, key := range keys {
		g.Go(func() error {
			for range n {
				if err := p.warmOne(ctx, key, n); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return nil
				}
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through errs
	return errors.Join(errs...)
}

// warmOne dials one more connection for key unless it already has target
// (counting a dial in flight). It never evicts: a full pool is an error.
func (p *pool) warmOne(ctx context.Context, key string, target int) error {
	p.mu.Lock()
	if err := p.getErrLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	ks := p.keyLocked(key)
	if ks.open+ks.closing+ks.dialing >= target || ks.dialing > 0 {
		p.mu.Unlock()
		return nil
	}
	var fx effects
	if ks.guard != nil {
		ev, err := ks.guard.allow()
		fx.event(ev)
		if err != nil {
			p.mu.Unlock()
			p.apply(&fx)
			p.stats.warmupFailures.Add(1)
			return err
		}
	}
	if ks.usedLocked() >= p.cfg.MaxConnectionsPerKey || p.usedLocked() >= p.cfg.MaxConnections {
		p.dropKeyIfIdleLocked(ks)
		p.mu.Unlock()
		p.stats.warmupFailures.Add(1)
		return fmt.Errorf("pool: warmup %q: %w", key, ErrPoolExhausted)
	}
	ks.dialing++
	p.dialing++
	timeout := p.cfg.DialTimeout
	p.mu.Unlock()
	p.apply(&fx)
	id, c, err := p.dialOnce(ctx, key, timeout)
	if err != nil {
		p.stats.warmupFailures.Add(1)
	}
	p.dialDone(ks, id, c, err, false)
	return err
}
