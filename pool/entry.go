package pool

import (
	"sort"
	"sync/atomic"
	"time"
)

// EntryState is the state of a pooled connection, named as JSON and
// traces print it.
//
//	idle ⇄ active → draining | unhealthy → closed
//
// Idle and active are derived from the lease count; draining, unhealthy
// and closed are set once and never left.
type EntryState string

// The entry states.
const (
	// StateIdle is an open, usable connection without leases.
	StateIdle EntryState = "idle"
	// StateActive is an open, usable connection with at least one lease.
	StateActive EntryState = "active"
	// StateDraining is a connection retired for lifetime, eviction, lowered
	// limits or pool close: no new leases; it closes when its leases end.
	StateDraining EntryState = "draining"
	// StateUnhealthy is a connection found dead or failing: no new leases;
	// it closes when its leases end.
	StateUnhealthy EntryState = "unhealthy"
	// StateClosed is a connection whose client was closed.
	StateClosed EntryState = "closed"
)

// stateCode is an EntryState as poolEntry.state stores it, in the order
// of the lifecycle.
type stateCode int32

const (
	stIdle stateCode = iota
	stActive
	stDraining
	stUnhealthy
	stClosed
)

var stateNames = [...]EntryState{stIdle: StateIdle, stActive: StateActive, stDraining: StateDraining,
	stUnhealthy: StateUnhealthy, stClosed: StateClosed}

// public returns the state's EntryState.
func (s stateCode) public() EntryState { return stateNames[s] }

// CloseReason says why the pool closed (or retired) a connection, named as
// JSON, metrics and traces print it.
type CloseReason string

// The close reasons, also the keys of Snapshot.ClosedByReason.
const (
	// ReasonIdle: idle longer than MaxIdleTime (cleanup).
	ReasonIdle CloseReason = "idle"
	// ReasonLifetime: older than MaxLifetime (checked at Get and cleanup).
	ReasonLifetime CloseReason = "lifetime"
	// ReasonUnhealthy: dead, failed a health check or a connection-level
	// error.
	ReasonUnhealthy CloseReason = "unhealthy"
	// ReasonEvicted: evicted by the strategy to make room for another key.
	ReasonEvicted CloseReason = "evicted"
	// ReasonLimit: over a lowered limit after UpdateConfig.
	ReasonLimit CloseReason = "limit"
	// ReasonPoolClosed: the pool was closed.
	ReasonPoolClosed CloseReason = "pool-closed"
)

// reasonCode is a CloseReason as poolEntry.reason and the counters store
// it.
type reasonCode int32

const (
	rsIdle reasonCode = iota
	rsLifetime
	rsUnhealthy
	rsEvicted
	rsLimit
	rsPoolClosed
	numReasons
)

var reasonNames = [numReasons]CloseReason{rsIdle: ReasonIdle, rsLifetime: ReasonLifetime,
	rsUnhealthy: ReasonUnhealthy, rsEvicted: ReasonEvicted, rsLimit: ReasonLimit, rsPoolClosed: ReasonPoolClosed}

// public returns the reason's CloseReason.
func (r reasonCode) public() CloseReason { return reasonNames[r] }

// ctl word layout: bits 0–19 count leases held, bit 20 (ctlDraining)
// forbids new leases, bit 21 (ctlQueued) says the key has queued waiters,
// bit 22 (ctlDead) says the connection ended (set by an EndNotifier hook;
// the death watcher then retires the entry), bits 23–63 count leases ever
// granted (the use count, wrapping after 2^41). One CAS takes a slot and counts the use; one Add returns it and
// tells the releaser whether waiters need serving. Whoever moves ctl to
// draining with no leases left closes the connection: the retirer when it
// was idle, else the last release.
const (
	ctlLeaseMask uint64 = 1<<20 - 1
	ctlDraining  uint64 = 1 << 20
	ctlQueued    uint64 = 1 << 21
	ctlDead      uint64 = 1 << 22
	ctlUseShift         = 23
	ctlUse       uint64 = 1 << ctlUseShift
	ctlState            = ctlLeaseMask | ctlDraining // what idle and drained are made of
)

// ctlDrained reports whether v is draining with no leases left.
func ctlDrained(v uint64) bool { return v&ctlState == ctlDraining }

// ctlIdle reports whether v is usable with no leases.
func ctlIdle(v uint64) bool { return v&ctlState == 0 }

// ctlRefuses reports whether v refuses a new lease: a bit of block is set,
// or it already holds max leases.
func ctlRefuses(v, block uint64, max int64) bool {
	return v&block != 0 || int64(v&ctlLeaseMask) >= max
}

// poolEntry is one pooled connection with the specification's metadata:
// state, created, last used, last health check, use count, health
// failures, metadata. Fields read on the hot path are atomics; the rest are
// immutable after creation or guarded by pool.mu.
type poolEntry struct {
	// The first 64 bytes hold what Get and Release touch. The struct is
	// exactly 192 bytes (TestEntryLayout), a size class whose objects are
	// 64-byte aligned, so they are one cache line: at 10,000 keys the hot
	// path misses in cache on nearly every object it reads, and each field
	// moved out of this line, or line the object straddles, costs a miss.
	// (128 bytes, the next smaller aligned class, does not fit the fields.)
	ctl     atomic.Uint64   // uses | ctlDead | ctlQueued | ctlDraining | leases
	name    string          // ks.name: the key table confirms a lookup with it
	expires int64           // unix nanos; 0 = no lifetime limit
	done    <-chan struct{} // client.Done() when the client is no EndNotifier (Get checks it), else nil
	ks      *keyState
	id      uint64

	client         SSHClient
	lastUsed       atomic.Int64           // unix nanos when last seen released (see lastUsedAt)
	seenReleases   atomic.Int64           // releases counted at that look (ctlReleases)
	lastHealth     atomic.Int64           // unix nanos of the last health check, 0 = never
	created        int64                  // unix nanos
	rtt            atomic.Int64           // last successful probe's round trip, nanos
	avgRTT         atomic.Int64           // EWMA (1/8) of rtt
	lastErr        atomic.Pointer[string] // last probe error while failing, else nil
	state          atomic.Int32           // stateCode: stateUsable (idle or active), else draining/unhealthy/closed
	reason         atomic.Int32           // reasonCode, valid once state != stateUsable
	healthFailures atomic.Int32           // consecutive failed health checks

	// Guarded by pool.mu.
	removed bool // taken out of its key's list; the remover closes client
	meta    map[string]string
	_       [40]byte // to 192 bytes
}

func newEntry(ks *keyState, c SSHClient, id uint64, now, expires int64) *poolEntry {
	e := &poolEntry{ks: ks, name: ks.name, client: c, id: id, created: now, expires: expires}
	e.lastUsed.Store(now)
	if n, ok := c.(EndNotifier); ok {
		n.NotifyEnd(func() { e.ctl.Or(ctlDead) })
	} else {
		e.done = c.Done()
	}
	return e
}

// ctlReleases returns how many leases ever granted have been released
// (uses minus leases held), modulo the width of the use count.
func ctlReleases(v uint64) int64 {
	return int64((v>>ctlUseShift - v&ctlLeaseMask) & (1<<(64-ctlUseShift) - 1))
}

// lastUsedAt returns when e was last seen released, stamping it with now
// when it was released since the pool last looked.
//
// Reading the clock costs 50–150 ns on the VMs this runs on, more than the
// whole Get+Release hit path, so Release records nothing at all: the
// releases are counted by ctl anyway (ctlReleases), and whoever next looks
// at the entry (eviction, cleanup, Entries) and finds the count changed
// stamps it with the time of that look. LastUsed is therefore "first seen
// released", never earlier than the release: idle times are never
// overestimated, so MaxIdleTime never closes a connection early, and LRU
// orders connections by the look in which they were seen released. (A
// release that wrote a mark into the entry read the entry's hot cache line
// before its own decrement: one more transfer of that line between CPUs
// when two of them share a connection.)
func (e *poolEntry) lastUsedAt(now int64) int64 {
	r := ctlReleases(e.ctl.Load())
	if seen := e.seenReleases.Load(); seen != r {
		e.lastUsed.Store(now) // before seenReleases: a look that sees r also sees a stamp at least this late
		e.seenReleases.CompareAndSwap(seen, r)
		return now
	}
	return e.lastUsed.Load()
}

// leases returns the number of leases held.
func (e *poolEntry) leases() int64 { return int64(e.ctl.Load() & ctlLeaseMask) }

// uses returns the number of leases ever granted on e.
func (e *poolEntry) uses() int64 { return int64(e.ctl.Load() >> ctlUseShift) }

// stateUsable is poolEntry.state while the entry takes new leases: idle
// and active share it (stIdle), since which of the two an entry
// is follows from its lease count. Retiring moves state away from it once.
const stateUsable = int32(stIdle)

// usable reports whether e takes new leases: not retired (draining,
// unhealthy) or closed. Its slots may still all be taken.
func (e *poolEntry) usable() bool { return e.state.Load() == stateUsable }

// State reports the entry's state.
func (e *poolEntry) current() stateCode {
	if s := e.state.Load(); s != stateUsable {
		return stateCode(s)
	}
	if e.leases() > 0 {
		return stActive
	}
	return stIdle
}

// tryAcquire reserves one lease slot, counting the use, if no bit of
// block is set and the entry has fewer than max leases.
func (e *poolEntry) tryAcquire(max int64, block uint64) bool {
	for {
		v := e.ctl.Load()
		if ctlRefuses(v, block, max) {
			return false
		}
		if e.ctl.CompareAndSwap(v, v+1+ctlUse) {
			return true
		}
	}
}

// releaseSlot returns a slot and reports the new ctl value.
func (e *poolEntry) releaseSlot() uint64 { return e.ctl.Add(^uint64(0)) }

// retire stops new leases. It reports whether this call set the state
// (the first retirement wins and records state and reason) and whether the
// caller now owns closing the entry (it had no leases).
func (e *poolEntry) retire(state stateCode, reason reasonCode) (changed, owned bool) {
	if e.state.CompareAndSwap(stateUsable, int32(state)) {
		e.reason.Store(int32(reason))
		changed = true
	}
	for {
		v := e.ctl.Load()
		if v&ctlDraining != 0 {
			return changed, false
		}
		if e.ctl.CompareAndSwap(v, v|ctlDraining) {
			return changed, v&ctlLeaseMask == 0
		}
	}
}

// tryEvict retires the entry only if it is idle and usable, and then owns
// its close.
func (e *poolEntry) tryEvict(reason reasonCode) bool {
	v := e.ctl.Load()
	if !ctlIdle(v) || !e.ctl.CompareAndSwap(v, v|ctlDraining) {
		return false
	}
	if e.state.CompareAndSwap(stateUsable, int32(stDraining)) {
		e.reason.Store(int32(reason))
	}
	return true
}

// EntryInfo is a snapshot of one pooled connection's metadata, for
// strategies, debugging and health integration. Its JSON form carries no
// secrets: no credentials, only the key and the remote address.
type EntryInfo struct {
	ID              uint64            `json:"id"`                         // unique per pool, in dial order
	Key             string            `json:"key"`                        // the key the connection serves
	State           EntryState        `json:"state"`                      // idle, active, draining, unhealthy or closed
	Reason          string            `json:"reason,omitempty"`           // why it was retired, once State is draining or later
	RemoteAddr      string            `json:"remote_addr,omitempty"`      // the server address (no credentials)
	Created         time.Time         `json:"created"`                    // when it was dialled
	LastUsed        time.Time         `json:"last_used"`                  // when the pool first saw it released; never before the release
	LastHealthCheck time.Time         `json:"last_health_check,omitzero"` // zero if never probed
	Expires         time.Time         `json:"expires,omitzero"`           // MaxLifetime with jitter; zero if unlimited
	UseCount        int64             `json:"use_count"`                  // leases ever granted
	Leases          int64             `json:"leases"`                     // leases held now
	HealthFailures  int64             `json:"health_failures"`            // consecutive failed probes
	RTT             time.Duration     `json:"rtt,omitempty"`              // last successful probe's round trip
	AvgRTT          time.Duration     `json:"avg_rtt,omitempty"`          // its moving average (EWMA, 1/8)
	Metadata        map[string]string `json:"metadata,omitempty"`         // annotations (never secrets); read-only
}

// infoLocked snapshots e at now. The caller holds pool.mu (for meta).
func (e *poolEntry) infoLocked(now int64) EntryInfo {
	st := e.current()
	in := EntryInfo{
		ID: e.id, Key: e.ks.name, State: st.public(),
		Created: nanoTime(e.created), LastUsed: nanoTime(e.lastUsedAt(now)),
		LastHealthCheck: nanoTime(e.lastHealth.Load()), Expires: nanoTime(e.expires),
		UseCount: e.uses(), Leases: e.leases(), HealthFailures: int64(e.healthFailures.Load()),
		RTT: time.Duration(e.rtt.Load()), AvgRTT: time.Duration(e.avgRTT.Load()),
	}
	if st >= stDraining {
		in.Reason = string(reasonCode(e.reason.Load()).public())
	}
	if a := e.client.RemoteAddr(); a != nil {
		in.RemoteAddr = a.String()
	}
	if len(e.meta) > 0 {
		in.Metadata = make(map[string]string, len(e.meta))
		for k, v := range e.meta {
			in.Metadata[k] = v
		}
	}
	return in
}

// nanoTime converts unix nanos to a time; 0 is the zero time.
func nanoTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// forEachEntryLocked calls fn for every open connection. Caller holds
// pool.mu; fn must not block or unlock.
func (p *pool) forEachEntryLocked(fn func(*poolEntry)) {
	for _, ks := range p.byKey {
		for _, e := range ks.list() {
			fn(e)
		}
	}
}

// setMetaLocked annotates e (shown in EntryInfo.Metadata). Caller holds
// pool.mu. Values must not be secrets.
func (e *poolEntry) setMetaLocked(k, v string) {
	if e.meta == nil {
		e.meta = map[string]string{}
	}
	e.meta[k] = v
}

// Entries implements Pool.
func (p *pool) Entries() []EntryInfo {
	now := p.nowNano()
	p.mu.Lock()
	var out []EntryInfo
	p.forEachEntryLocked(func(e *poolEntry) { out = append(out, e.infoLocked(now)) })
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// closeIdle retires e for reason and closes it, but only if it is idle and
// usable at that instant (a concurrent Get wins). It reports whether it
// did. It is the seam for cleanup: idle timeout, lifetime, lowered limits.
// It takes pool.mu, so the caller must not hold it.
func (p *pool) closeIdle(e *poolEntry, reason reasonCode) bool {
	if !e.tryEvict(reason) {
		return false
	}
	fx := effects{retired: []*poolEntry{e}, changes: []stateChange{{e: e, from: stIdle}}}
	p.apply(&fx)
	return true
}
