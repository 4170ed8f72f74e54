package pool

import (
	"context"
	"math/rand/v2"
	"time"
)

// affinityKey is the context key of WithAffinity.
type affinityKey struct{}

// WithAffinity returns a context that asks Get to prefer, for every key,
// the same connection for the same hint (for example a session or job id),
// as long as that connection has a free slot. It is a preference, not a
// guarantee: a full or retired connection falls back to the load-balancing
// mode, and adding or removing connections of a key may move the hint.
func WithAffinity(ctx context.Context, hint string) context.Context {
	return context.WithValue(ctx, affinityKey{}, hint)
}

// affinity returns ctx's affinity hint, or "".
func affinity(ctx context.Context) string {
	s, _ := ctx.Value(affinityKey{}).(string)
	return s
}

// hashString is 32-bit FNV-1a.
func hashString(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// randDuration returns a random duration in [0, d), or 0 when d <= 0.
func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// picker reserves a slot on one connection of a key. It lives on the
// caller's stack for one pick.
type picker struct {
	p     *pool
	fx    *effects
	max   int64  // MaxSessionsPerConnection
	now   int64  // unix nanos, read lazily
	block uint64 // ctl bits that refuse a new lease
}

// pick reserves a slot on one of ks's usable connections, chosen by the
// affinity hint, then the load-balancing mode, and returns it (nil if all
// are full). Stale connections it meets are retired into fx. It takes no
// lock; the caller holds pool.mu and serves ks's queue in FIFO order.
func (p *pool) pick(ks *keyState, hint string, fx *effects) *poolEntry {
	pk := picker{p: p, fx: fx, max: p.maxSessions.Load(), block: ctlDraining | ctlDead}
	return pk.pick(ks, hint)
}

// lockFree returns a picker for Get's lock-free path, which also refuses
// connections whose key has queued waiters (ctlQueued), so that it never
// overtakes them.
func (p *pool) lockFree(fx *effects) picker {
	return picker{p: p, fx: fx, max: p.maxSessions.Load(), block: ctlDraining | ctlDead | ctlQueued}
}

func (pk *picker) pick(ks *keyState, hint string) *poolEntry {
	list := ks.list()
	switch len(list) {
	case 0:
		return nil
	case 1:
		if pk.take(list[0]) {
			return list[0]
		}
		return nil
	}
	if hint != "" {
		if e := list[hashString(hint)%uint32(len(list))]; pk.take(e) {
			return e
		}
	}
	switch pk.p.balance.Load() {
	case balanceRoundRobin:
		return pk.roundRobin(ks, list)
	case balancePowerOfTwo:
		return pk.powerOfTwo(list)
	}
	return pk.leastLoaded(list)
}

// load returns e's lease count, or max when e refuses new leases.
func (pk *picker) load(e *poolEntry) int64 {
	v := e.ctl.Load()
	if v&pk.block != 0 {
		return pk.max
	}
	return int64(v & ctlLeaseMask)
}

// take reserves a slot on e if it is usable and not full. A connection
// past its lifetime or found dead is retired here, so it is never handed
// out. Death shows as ctlDead, set by the client's EndNotifier hook before
// its Done closes; for clients without the hook take checks Done, cached
// in the entry's hot line. Get reads no other sign of death, such as
// client.Alive: each object read is one more cache miss per Get at 10,000
// keys.
func (pk *picker) take(e *poolEntry) bool {
	v := e.ctl.Load()
	if ctlRefuses(v, pk.block, pk.max) {
		if v&(ctlDead|ctlDraining) == ctlDead {
			pk.fx.retire(e, stUnhealthy, rsUnhealthy, nil)
		}
		return false
	}
	if e.expires != 0 {
		if pk.now == 0 {
			pk.now = pk.p.nowNano()
		}
		if pk.now >= e.expires {
			pk.fx.retire(e, stDraining, rsLifetime, nil)
			return false
		}
	}
	if e.done != nil {
		select {
		case <-e.done:
			pk.fx.retire(e, stUnhealthy, rsUnhealthy, nil)
			return false
		default:
		}
	}
	return e.tryAcquire(pk.max, pk.block)
}

// leastLoaded takes the connection with the fewest leases. It rescans
// when another goroutine took the slot first, a bounded number of times.
func (pk *picker) leastLoaded(list []*poolEntry) *poolEntry {
	for range len(list) + 1 {
		var best *poolEntry
		bestV := pk.max
		for _, e := range list {
			if v := pk.load(e); v < bestV {
				best, bestV = e, v
			}
		}
		if best == nil {
			return nil
		}
		if pk.take(best) {
			return best
		}
	}
	return nil
}

// roundRobin takes the first connection with a free slot after the key's
// rotating cursor.
func (pk *picker) roundRobin(ks *keyState, list []*poolEntry) *poolEntry {
	n := uint32(len(list))
	start := ks.rr.Add(1)
	for i := range n {
		if e := list[(start+i)%n]; pk.take(e) {
			return e
		}
	}
	return nil
}

// powerOfTwo samples two distinct connections and takes the less loaded.
func (pk *picker) powerOfTwo(list []*poolEntry) *poolEntry {
	n := len(list)
	if n == 1 {
		return pk.leastLoaded(list)
	}
	i, j := rand.IntN(n), rand.IntN(n-1)
	if j >= i {
		j++
	}
	a, b := list[i], list[j]
	if pk.load(b) < pk.load(a) {
		a, b = b, a
	}
	if pk.take(a) {
		return a
	}
	if pk.take(b) {
		return b
	}
	return pk.leastLoaded(list)
}
