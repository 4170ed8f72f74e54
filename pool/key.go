package pool

import (
	"hash/maphash"
	"sync/atomic"
)

// keyShards is the number of shards of a keyTable.
const keyShards = 256

// keyTable maps keys to their state for the lock-free Get path: sharded,
// copy-on-write, open-addressing hash tables. A key with exactly one
// connection (the common case) is found without reading its key state: its
// slot holds the connection's entry, whose first cache line has the name
// to confirm the match and everything Get and Release touch. A lookup is
// one hash, one atomic load, usually one slot read and that entry line;
// at 10,000 keys each of those is a likely cache miss, so every line kept
// off the path counts. A key or slot change (under pool.mu) copies one
// shard, O(keys/256); keys live only while they hold connections, dials or
// waiters. Go maps (and sync.Map's trie) cost several dependent cache
// misses per lookup at 10,000 keys, which made Get 3× slower there than at
// 10 keys.
type keyTable struct {
	seed   maphash.Seed
	shards [keyShards]atomic.Pointer[keyShard]
}

// keyShard is one open-addressing table (linear probing, load factor at
// most 1/2). Its set of keys is immutable; only slots' single pointers
// change in place, under pool.mu.
type keyShard struct {
	mask   uint64
	slots  []keySlot
	states []*keyState // parallel to slots: read only for keys without a single connection
	n      int
}

// keySlot is 16 bytes, four to a cache line.
type keySlot struct {
	hash uint64 // the key's hash with the low bit set; 0 marks an empty slot
	// single is the key's only connection (keyState.only), else nil.
	// A reader holding a superseded shard may see an older value; that is
	// harmless, since an entry that left its key is draining and refuses
	// new leases, and nil sends the reader through the key state.
	single atomic.Pointer[poolEntry]
}

func (t *keyTable) hash(key string) (uint64, *atomic.Pointer[keyShard]) {
	h := maphash.String(t.seed, key)
	return h | 1, &t.shards[h>>56]
}

// load returns key's only connection when it has exactly one, else key's
// state; both nil for an unknown key. The entry may be stale (retired);
// the caller's lease attempt finds out.
func (t *keyTable) load(key string) (*poolEntry, *keyState) {
	h, sp := t.hash(key)
	sh := sp.Load()
	if sh == nil {
		return nil, nil
	}
	for i := h & sh.mask; ; i = (i + 1) & sh.mask {
		s := &sh.slots[i]
		switch s.hash {
		case 0:
			return nil, nil
		case h:
			if e := s.single.Load(); e != nil {
				if e.name == key {
					return e, nil
				}
			} else if ks := sh.states[i]; ks.name == key {
				return nil, ks
			}
		}
	}
}

// state returns key's state, or nil. Off the hot path.
func (t *keyTable) state(key string) *keyState {
	sh, i := t.find(key)
	if sh == nil {
		return nil
	}
	return sh.states[i]
}

// find returns the current shard holding key and key's slot index, or nil.
func (t *keyTable) find(key string) (*keyShard, uint64) {
	h, sp := t.hash(key)
	sh := sp.Load()
	if sh == nil {
		return nil, 0
	}
	for i := h & sh.mask; ; i = (i + 1) & sh.mask {
		switch s := &sh.slots[i]; s.hash {
		case 0:
			return nil, 0
		case h:
			if sh.states[i].name == key {
				return sh, i
			}
		}
	}
}

// storeLocked adds key's state (the key must not be present). Caller holds
// pool.mu.
func (t *keyTable) storeLocked(key string, ks *keyState) {
	h, sp := t.hash(key)
	old := sp.Load()
	n := 1
	if old != nil {
		n += old.n
	}
	sh := newKeyShard(n)
	if old != nil {
		sh.copyFrom(old, nil)
	}
	sh.insert(h, ks.only(), ks)
	sp.Store(sh)
}

// deleteLocked removes ks. Caller holds pool.mu.
func (t *keyTable) deleteLocked(ks *keyState) {
	_, sp := t.hash(ks.name)
	old := sp.Load()
	if old == nil {
		return
	}
	sh := newKeyShard(old.n)
	sh.copyFrom(old, ks)
	sp.Store(sh)
}

// setSingleLocked publishes ks.only() in ks's slot. Caller holds pool.mu,
// as do all writers of slots, so copyFrom never misses an update.
func (t *keyTable) setSingleLocked(ks *keyState) {
	if sh, i := t.find(ks.name); sh != nil && sh.states[i] == ks {
		sh.slots[i].single.Store(ks.only())
	}
}

// newKeyShard returns an empty shard with room for n keys.
func newKeyShard(n int) *keyShard {
	size := 4
	for size < 2*n {
		size *= 2
	}
	return &keyShard{mask: uint64(size - 1), slots: make([]keySlot, size), states: make([]*keyState, size)}
}

// copyFrom inserts old's keys except skip.
func (sh *keyShard) copyFrom(old *keyShard, skip *keyState) {
	for i := range old.slots {
		if ks := old.states[i]; ks != nil && ks != skip {
			sh.insert(old.slots[i].hash, old.slots[i].single.Load(), ks)
		}
	}
}

func (sh *keyShard) insert(h uint64, single *poolEntry, ks *keyState) {
	i := h & sh.mask
	for sh.slots[i].hash != 0 {
		i = (i + 1) & sh.mask
	}
	sh.slots[i].hash = h
	sh.slots[i].single.Store(single)
	sh.states[i] = ks
	sh.n++
}

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
		p.evictLocked(ReasonEvicted, fx)
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
				p.evictLocked(ReasonEvicted, fx)
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

// effects collects what a locked section decided but must do after
// unlocking: closes (I/O), tracer calls, and removals of entries retired
// without the lock.
type effects struct {
	retired []*poolEntry  // retired and owned, still to remove (needs mu)
	closes  []*poolEntry  // removed; close their clients
	orphans []SSHClient   // dialled after Close; close them
	changes []stateChange // state transitions to trace
	evicts  []evictRecord // eviction decisions to trace
	events  []HealthEvent // health events to publish
	replace []*poolEntry  // retired unhealthy: their key may need a replacement
}

type stateChange struct {
	e    *poolEntry
	from EntryState
	err  error
}

type evictRecord struct {
	e        *poolEntry
	strategy string
}

// pending reports whether apply has work.
func (fx *effects) pending() bool {
	return len(fx.retired)+len(fx.closes)+len(fx.orphans)+len(fx.changes)+len(fx.evicts)+
		len(fx.events)+len(fx.replace) > 0
}

// retire stops new leases on e, recording the state change, and queues e
// for removal when the caller now owns its close. It takes no lock.
func (fx *effects) retire(e *poolEntry, to EntryState, reason CloseReason, cause error) {
	from := e.State()
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
		if p.tracer != nil {
			p.traceEffects(&now)
		}
		for _, ev := range now.events {
			p.hi.publish(ev)
		}
		for _, e := range now.closes {
			p.closeEntry(e)
		}
		for _, c := range now.orphans {
			_ = c.Close() // dialled after Close: nobody to report to
		}
		if len(now.closes)+len(now.replace) > 0 {
			p.mu.Lock()
			p.closedLocked(now.closes, fx)
			p.hi.replaceLocked(now.replace, fx)
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

func (p *pool) traceEffects(fx *effects) {
	for _, c := range fx.changes {
		p.tracer.TraceStateChange(StateChangeData{Key: c.e.ks.name, ConnID: c.e.id, From: c.from,
			To: EntryState(c.e.state.Load()), Reason: CloseReason(c.e.reason.Load()), Err: c.err})
	}
	for _, ev := range fx.evicts {
		p.tracer.TraceEvict(EvictData{Key: ev.e.ks.name, ConnID: ev.e.id, Strategy: ev.strategy,
			Reason: CloseReason(ev.e.reason.Load())})
	}
}

// closeEntry closes a removed entry's client and traces it.
func (p *pool) closeEntry(e *poolEntry) {
	e.state.Store(int32(StateClosed))
	err := e.client.Close()
	if p.tracer != nil {
		p.tracer.TraceConnClose(ConnCloseData{Key: e.ks.name, ConnID: e.id,
			Reason: CloseReason(e.reason.Load()), Age: p.clock().Sub(nanoTime(e.created)),
			UseCount: e.uses(), Err: err})
	}
}

// finish removes an entry whose close the caller owns, outside mu.
func (p *pool) finish(e *poolEntry) {
	fx := effects{retired: []*poolEntry{e}}
	p.apply(&fx)
}
