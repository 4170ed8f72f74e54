package pool

import (
	"context"
	"sync/atomic"
	"time"
)

// keyState is the per-key state: the key's connections and its waiters.
type keyState struct {
	name string
	// conns is the key's open connections (any state but closed) as a
	// copy-on-write slice: read without a lock, replaced under pool.mu.
	conns atomic.Pointer[[]*poolEntry]
	// waiting counts queued waiters plus slow-path Gets deciding whether to
	// queue. While it is non-zero the key's connections carry ctlQueued
	// (see addWaitingLocked): the lock-free path defers to the queue (FIFO),
	// and Release takes the lock to serve it. Written under pool.mu.
	waiting atomic.Int32
	// rr is the round-robin cursor.
	rr atomic.Uint32

	// Guarded by pool.mu.
	waiters waitQueue
	open    int       // len(list())
	closing int       // removed, Close not yet returned; counts against the per-key limit
	dialing int       // dials in flight: at most one demand dial
	starved bool      // queued in pool.starved, waiting for pool-wide room
	queued  bool      // ctlQueued is set on the key's connections (waiting > 0)
	guard   dialGuard // circuit breaker; nil allows every dial
	wanted  int64     // unix nanos: when a Get last wanted a new connection (growLocked)
}

// list returns the key's connections. The slice must not be modified.
func (ks *keyState) list() []*poolEntry {
	if l := ks.conns.Load(); l != nil {
		return *l
	}
	return nil
}

// addWaitingLocked adds d to waiting and keeps ctlQueued on the key's
// connections equal to waiting > 0. Caller holds pool.mu.
//
// The bit lives in each connection's ctl word so that Get and Release,
// which touch that word anyway, learn of waiters without reading the key
// state (one more cache miss at 10,000 keys). Setting it is an atomic
// read-modify-write on the same word Release decrements, which gives the
// no-lost-wakeup pairing: a Release ordered before the set has freed a
// slot that the queuing Get's pick (after the set) sees; one ordered after
// sees the bit and serves the queue under the lock.
func (ks *keyState) addWaitingLocked(d int32) {
	q := ks.waiting.Add(d) > 0
	if q == ks.queued {
		return
	}
	ks.queued = q
	for _, e := range ks.list() {
		if q {
			e.ctl.Or(ctlQueued)
		} else {
			e.ctl.And(^ctlQueued)
		}
	}
}

// addLocked appends e to the key's connections. Caller holds pool.mu.
func (ks *keyState) addLocked(e *poolEntry) {
	if ks.queued {
		e.ctl.Or(ctlQueued)
	}
	old := ks.list()
	l := make([]*poolEntry, len(old), len(old)+1)
	copy(l, old)
	l = append(l, e)
	ks.publishLocked(l)
}

// removeLocked drops e from the key's connections. Caller holds pool.mu.
func (ks *keyState) removeLocked(e *poolEntry) {
	old := ks.list()
	l := make([]*poolEntry, 0, len(old))
	for _, x := range old {
		if x != e {
			l = append(l, x)
		}
	}
	ks.publishLocked(l)
}

// usedLocked counts connections against MaxConnectionsPerKey.
func (ks *keyState) usedLocked() int { return ks.open + ks.closing + ks.dialing }

// publishLocked makes l the key's connection list.
func (ks *keyState) publishLocked(l []*poolEntry) {
	ks.conns.Store(&l)
	ks.open = len(l)
}

// only returns the key's connection when it has exactly one, else nil.
// The key table's slot holds it, so that Get on such a key reads neither
// the key state nor its list.
func (ks *keyState) only() *poolEntry {
	if l := ks.list(); len(l) == 1 {
		return l[0]
	}
	return nil
}

// idleLocked reports whether the key holds nothing worth keeping.
func (ks *keyState) idleLocked() bool {
	return ks.open == 0 && ks.closing == 0 && ks.dialing == 0 && ks.waiters.len() == 0 &&
		(ks.guard == nil || ks.guard.quiet())
}

// keyLocked returns the state for key, creating it. Caller holds mu.
func (p *pool) keyLocked(key string) *keyState {
	if ks := p.byKey[key]; ks != nil {
		return ks
	}
	ks := &keyState{name: key}
	if p.newGuard != nil {
		ks.guard = p.newGuard(key)
	}
	p.byKey[key] = ks
	p.keys.storeLocked(key, ks)
	return ks
}

// dropKeyIfIdleLocked forgets a key that has no connections, dials or
// waiters, so a pool that saw many keys does not keep them all.
func (p *pool) dropKeyIfIdleLocked(ks *keyState) {
	if ks.idleLocked() && p.byKey[ks.name] == ks {
		delete(p.byKey, ks.name)
		p.keys.deleteLocked(ks)
	}
}

// addEntryLocked adds a freshly dialled client to ks.
func (p *pool) addEntryLocked(ks *keyState, id uint64, c SSHClient) *poolEntry {
	now := p.nowNano()
	var expires int64
	if lt := p.cfg.MaxLifetime; lt > 0 {
		if j := p.cfg.LifetimeJitter; j > 0 {
			lt -= randDuration(j)
		}
		expires = now + int64(lt)
	}
	e := newEntry(ks, c, id, now, expires)
	ks.addLocked(e)
	p.keys.setSingleLocked(ks)
	p.open++
	p.stats.created.Add(1)
	p.watchLocked(e)
	return e
}

// removeLocked takes e out of the pool and schedules its client's Close.
// Only the owner of e's close calls it (see entry.retire); it is a no-op
// for an entry already removed.
func (p *pool) removeLocked(e *poolEntry, fx *effects) {
	if e.removed {
		if e.leases() == 0 {
			delete(p.orphans, e) // the last lease of a force-closed connection
		}
		return
	}
	e.removed = true
	p.stats.foldedUses.Add(e.uses())
	if e.leases() > 0 {
		p.orphans[e] = struct{}{}
	}
	e.ks.removeLocked(e)
	p.keys.setSingleLocked(e.ks)
	e.ks.closing++
	p.open--
	p.closingConns++
	p.stats.closedBy[e.reason.Load()].Add(1)
	fx.closes = append(fx.closes, e) // closedLocked settles the counts once Close returns
}

// serveKeyLocked hands free slots to ks's waiters in FIFO order, then
// starts a dial if waiters remain and the limits allow.
func (p *pool) serveKeyLocked(ks *keyState, fx *effects) {
	for ks.waiters.len() > 0 {
		w := ks.waiters.peek()
		e := p.pick(ks, w.hint, fx)
		if e == nil {
			break
		}
		ks.waiters.pop()
		p.deliverLocked(ks, w, p.newLease(e), nil)
	}
	if ks.waiters.len() > 0 {
		p.growLocked(ks, fx)
	}
}

// growLocked starts a dial for ks if none is in flight and both the
// per-key and the pool-wide limit allow (evicting an idle connection of
// another key if needed). Otherwise the waiters keep waiting.
func (p *pool) growLocked(ks *keyState, fx *effects) {
	ks.wanted = p.nowNano()
	if ks.dialing > 0 || p.closed || ks.usedLocked() >= p.cfg.MaxConnectionsPerKey {
		return
	}
	if !p.roomLocked(ks, fx) {
		return
	}
	if ks.guard != nil { // after roomLocked: a half-open trial must really dial
		ev, err := ks.guard.allow()
		fx.event(ev)
		if err != nil {
			p.failWaitersLocked(ks, err)
			return
		}
	}
	p.stats.misses.Add(1)
	p.startDialLocked(ks, ks.waiters.peek().vctx, false)
}

// roomLocked reports whether one more connection fits pool-wide. If not,
// it queues ks as starved and, unless a close is already under way (which
// will free room), evicts an idle connection chosen by the strategy. The
// room an eviction frees counts only once the victim's Close has returned
// (closingConns), so a new dial never overtakes the close it waits for.
func (p *pool) roomLocked(ks *keyState, fx *effects) bool {
	if p.usedLocked() < p.cfg.MaxConnections {
		return true
	}
	// Count ourselves as starved before looking for an idle victim: a
	// Release that idles a connection after our look then sees nStarved > 0
	// and serves us (the store-load pairing in lease.release).
	p.nStarved.Add(1)
	if ks.starved {
		p.nStarved.Add(-1)
	} else {
		ks.starved = true
		p.starved = append(p.starved, ks)
	}
	if p.closingConns == 0 {
		p.evictLocked(rsEvicted, fx)
	}
	return false
}

// serveStarvedLocked gives pool-wide room to starved keys in FIFO order.
func (p *pool) serveStarvedLocked(fx *effects) {
	for len(p.starved) > 0 {
		ks := p.starved[0]
		needsRoom := ks.waiters.len() > 0 && !p.closed && ks.dialing == 0 &&
			ks.usedLocked() < p.cfg.MaxConnectionsPerKey
		if needsRoom && p.usedLocked() >= p.cfg.MaxConnections {
			if p.closingConns == 0 {
				p.evictLocked(rsEvicted, fx)
			}
			return
		}
		p.starved[0] = nil
		p.starved = p.starved[1:]
		ks.starved = false
		p.nStarved.Add(-1)
		p.serveKeyLocked(ks, fx)
		p.dropKeyIfIdleLocked(ks)
	}
}

// deliverLocked completes a waiter already popped from ks's queue.
func (p *pool) deliverLocked(ks *keyState, w *waiter, l *lease, err error) {
	w.lease, w.err, w.done = l, err, true
	ks.addWaitingLocked(-1)
	w.ready <- struct{}{}
}

// failWaitersLocked completes every waiter of ks with err.
func (p *pool) failWaitersLocked(ks *keyState, err error) {
	for ks.waiters.len() > 0 {
		p.deliverLocked(ks, ks.waiters.pop(), nil, err)
	}
}

// getSlow is Get under the lock: it leases at once if it can, else queues
// the caller (starting a dial if the limits allow) and waits.
func (p *pool) getSlow(ctx context.Context, key string) (*lease, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		p.stats.countGetAbort(err)
		return nil, 0, &WaitError{Key: key, Err: err}
	}
	hint := affinity(ctx)
	var fx effects
	p.mu.Lock()
	if err := p.getErrLocked(); err != nil {
		p.mu.Unlock()
		return nil, 0, err
	}
	ks := p.keyLocked(key)
	ks.addWaitingLocked(1)
	if ks.waiters.len() == 0 {
		if e := p.pick(ks, hint, &fx); e != nil {
			ks.addWaitingLocked(-1)
			p.mu.Unlock()
			p.apply(&fx)
			return p.newLease(e), 0, nil
		}
	}
	w := &waiter{ready: make(chan struct{}, 1), hint: hint, vctx: ctx}
	ks.waiters.push(w)
	p.serveKeyLocked(ks, &fx)
	timeout := p.cfg.WaitTimeout
	p.mu.Unlock()
	p.apply(&fx)
	return p.wait(ctx, ks, w, timeout)
}

// getErrLocked returns why Get cannot proceed: closed or invalid config.
func (p *pool) getErrLocked() error {
	if p.closed {
		return ErrPoolClosed
	}
	return p.cfgErr
}

// wait blocks until w is served, ctx ends or timeout (if > 0) passes.
func (p *pool) wait(ctx context.Context, ks *keyState, w *waiter, timeout time.Duration) (*lease, time.Duration, error) {
	start := p.clock()
	p.stats.waitCount.Add(1)
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	var cause error
	select {
	case <-w.ready:
		return p.waited(start, w)
	case <-ctx.Done():
		cause = ctx.Err()
	case <-expired:
		cause = context.DeadlineExceeded
	}
	return p.abandon(ks, w, start, cause)
}

// waited records a finished wait and returns its outcome.
func (p *pool) waited(start time.Time, w *waiter) (*lease, time.Duration, error) {
	d := max(p.clock().Sub(start), 1) // a served wait is never reported as a hit
	p.stats.waitNanos.Add(int64(d))
	p.stats.waitLatency.Observe(d)
	if w.lease != nil {
		p.stats.waitedGranted.Add(1)
	}
	return w.lease, d, w.err
}

// abandon takes w out of the queue after its caller gave up. If w was
// served in the meantime, the caller gets what it was served.
func (p *pool) abandon(ks *keyState, w *waiter, start time.Time, cause error) (*lease, time.Duration, error) {
	p.mu.Lock()
	if w.done {
		p.mu.Unlock()
		<-w.ready
		return p.waited(start, w)
	}
	ks.waiters.remove(w)
	ks.addWaitingLocked(-1)
	w.done = true
	exhausted := ks.dialing == 0
	p.dropKeyIfIdleLocked(ks)
	p.mu.Unlock()
	d := p.clock().Sub(start)
	p.stats.waitNanos.Add(int64(d))
	p.stats.waitLatency.Observe(d)
	p.stats.countGetAbort(cause)
	return nil, d, &WaitError{Key: ks.name, Waited: d, Exhausted: exhausted, Err: cause}
}
