package pool

// effects collects what a locked section decided but must do after
// unlocking: closes (I/O), tracer calls, and removals of entries retired
// without the lock.
type effects struct {
	retired []*poolEntry  // retired and owned, still to remove (needs mu)
	closes  []*poolEntry  // removed; close their clients
	orphans []SSHClient   // dialled after Close; close them
	changes []stateChange // state transitions to trace
	evicts  []evictRecord // which closes the eviction strategy chose (traced with them)
	events  []HealthEvent // health events to publish
	replace []*poolEntry  // retired unhealthy: their key may need a replacement
}

type stateChange struct {
	e    *poolEntry
	from stateCode
	err  error
}

// evictRecord names the strategy that chose e for eviction. The eviction
// removes e in the same locked section, so e is in the same effects'
// closes, and its Tracer.ConnClose carries the name.
type evictRecord struct {
	e        *poolEntry
	strategy string
}

// pending reports whether apply has work. evicts is not work of its own:
// each one's entry is in closes.
func (fx *effects) pending() bool {
	return len(fx.retired)+len(fx.closes)+len(fx.orphans)+len(fx.changes)+
		len(fx.events)+len(fx.replace) > 0
}

// strategyOf returns the name of the eviction strategy that chose e, or ""
// when e was not evicted by the strategy.
func (fx *effects) strategyOf(e *poolEntry) string {
	for _, ev := range fx.evicts {
		if ev.e == e {
			return ev.strategy
		}
	}
	return ""
}

// retire stops new leases on e, recording the state change, and queues e
// for removal when the caller now owns its close. It takes no lock.
func (fx *effects) retire(e *poolEntry, to stateCode, reason reasonCode, cause error) {
	from := e.current()
	changed, owned := e.retire(to, reason)
	if changed {
		fx.changes = append(fx.changes, stateChange{e, from, cause})
	}
	if owned {
		fx.retired = append(fx.retired, e)
	}
}

// reapLocked removes retired entries and serves what their removal frees.
func (p *pool) reapLocked(fx *effects) {
	for len(fx.retired) > 0 {
		e := fx.retired[len(fx.retired)-1]
		fx.retired = fx.retired[:len(fx.retired)-1]
		p.removeLocked(e, fx)
		p.serveKeyLocked(e.ks, fx)
	}
	p.serveStarvedLocked(fx)
}

// apply carries out fx outside mu: it reaps retired entries (taking mu),
// traces, closes clients, then (taking mu again) releases the room the
// closes held and serves whoever waited for it, until nothing is left.
func (p *pool) apply(fx *effects) {
	for fx.pending() {
		if len(fx.retired) > 0 {
			p.mu.Lock()
			p.reapLocked(fx)
			p.mu.Unlock()
		}
		now := *fx
		*fx = effects{}
		if t := p.tracer; t != nil && t.StateChange != nil {
			traceChanges(t.StateChange, now.changes)
		}
		for _, ev := range now.events {
			p.hi.publish(ev)
		}
		for _, e := range now.closes {
			p.closeEntry(e, &now)
		}
		for _, c := range now.orphans {
			_ = c.Close() // dialled after Close: nobody to report to
		}
		if len(now.closes)+len(now.replace) > 0 {
			p.mu.Lock()
			p.closedLocked(now.closes, fx)
			p.replaceRetiredLocked(now.replace, fx)
			p.mu.Unlock()
		}
	}
}

// closedLocked accounts for finished closes and serves the freed room.
func (p *pool) closedLocked(closed []*poolEntry, fx *effects) {
	for _, e := range closed {
		e.ks.closing--
		p.closingConns--
	}
	for _, e := range closed {
		p.serveKeyLocked(e.ks, fx)
		p.dropKeyIfIdleLocked(e.ks)
	}
	p.serveStarvedLocked(fx)
	p.checkDrainedLocked()
}

// traceChanges passes each state change to hook.
func traceChanges(hook func(StateChangeData), changes []stateChange) {
	for _, c := range changes {
		hook(StateChangeData{Key: c.e.ks.name, ConnID: c.e.id, From: c.from.public(),
			To: stateCode(c.e.state.Load()).public(), Reason: reasonCode(c.e.reason.Load()).public(), Err: c.err})
	}
}

// closeEntry closes a removed entry's client and traces it, naming the
// eviction strategy when fx records that it chose e.
func (p *pool) closeEntry(e *poolEntry, fx *effects) {
	e.state.Store(int32(stClosed))
	err := e.client.Close()
	if t := p.tracer; t != nil && t.ConnClose != nil {
		t.ConnClose(ConnCloseData{Key: e.ks.name, ConnID: e.id,
			Reason: reasonCode(e.reason.Load()).public(), Strategy: fx.strategyOf(e),
			Age: p.clock().Sub(nanoTime(e.created)), UseCount: e.uses(), Err: err})
	}
}

// finish removes an entry whose close the caller owns, outside mu.
func (p *pool) finish(e *poolEntry) {
	fx := effects{retired: []*poolEntry{e}}
	p.apply(&fx)
}
