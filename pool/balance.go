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
	p   *pool
	fx  *effects
	max int64 // MaxSessionsPerConnection
	now int64 // unix nanos, read lazily
}

// pick reserves a slot on one of ks's usable connections, chosen by the
// affinity hint, then the load-balancing mode, and returns it (nil if all
// are full). Stale connections it meets are retired into fx. It takes no
// lock and may run with or without pool.mu held.
func (p *pool) pick(ks *keyState, hint string, fx *effects) *poolEntry {
	pk := picker{p: p, fx: fx, max: p.maxSessions.Load()}
	if e := ks.single.Load(); e != nil {
		if pk.take(e) {
			return e
		}
		return nil
	}
	list := ks.list()
	if len(list) == 0 {
		return nil
	}
	if hint != "" {
		if e := list[hashString(hint)%uint32(len(list))]; pk.take(e) {
			return e
		}
	}
	switch LoadBalancing(p.balance.Load()) {
	case RoundRobin:
		return pk.roundRobin(ks, list)
	case PowerOfTwo:
		return pk.powerOfTwo(list)
	}
	return pk.leastLoaded(list)
}

// take reserves a slot on e if it is usable and not full.
func (pk *picker) take(e *poolEntry) bool {
	if ctlLoad(e.ctl.Load(), pk.max) >= pk.max {
		return false
	}
	if e.expires != 0 && pk.now == 0 {
		pk.now = pk.p.nowNano()
	}
	if reason, bad := e.stale(pk.now); bad {
		pk.fx.retire(e, stateFor(reason), reason, nil)
		return false
	}
	return e.tryAcquire(pk.max)
}

func stateFor(r CloseReason) EntryState {
	if r == ReasonUnhealthy {
		return StateUnhealthy
	}
	return StateDraining
}

// leastLoaded takes the connection with the fewest leases. It rescans
// when another goroutine took the slot first, a bounded number of times.
func (pk *picker) leastLoaded(list []*poolEntry) *poolEntry {
	for range len(list) + 1 {
		var best *poolEntry
		bestV := pk.max
		for _, e := range list {
			if v := ctlLoad(e.ctl.Load(), pk.max); v < bestV {
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
	if ctlLoad(b.ctl.Load(), pk.max) < ctlLoad(a.ctl.Load(), pk.max) {
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
