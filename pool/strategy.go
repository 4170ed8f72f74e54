package pool

import (
	"sort"
)

// EvictionStrategy chooses which idle connection to close when a key
// needs room at the pool-wide limit (or a lowered limit must be met).
// SelectVictim runs with the pool's lock held, on the goroutine that needs
// the room: it must be fast, must not block, must not call the pool, and
// must not modify candidates or their Metadata.
//
// LRU (the default) and FIFO are provided; a custom strategy is any type
// with these two methods, as the example shows.
type EvictionStrategy interface {
	// Name identifies the strategy in traces ("lru").
	Name() string
	// SelectVictim returns the index in candidates of the connection to
	// evict, or -1 to evict none. candidates are idle, usable connections,
	// sorted by ID, never empty.
	SelectVictim(candidates []EntryInfo) int
}

// LRU returns the default strategy, "lru": it evicts the connection idle
// the longest (least recently used; ties go to the older connection).
func LRU() EvictionStrategy { return lru{} }

// FIFO returns the strategy "fifo": it evicts the oldest connection (first
// dialled).
func FIFO() EvictionStrategy { return fifo{} }

// lru is the strategy LRU returns.
type lru struct{}

func (lru) Name() string { return "lru" }

// SelectVictim returns the candidate with the oldest LastUsed.
func (lru) SelectVictim(c []EntryInfo) int {
	best := 0
	for i := range c {
		if c[i].LastUsed.Before(c[best].LastUsed) {
			best = i
		}
	}
	return best
}

// fifo is the strategy FIFO returns.
type fifo struct{}

func (fifo) Name() string { return "fifo" }

// SelectVictim returns the candidate with the oldest Created.
func (fifo) SelectVictim(c []EntryInfo) int {
	best := 0
	for i := range c {
		if c[i].Created.Before(c[best].Created) {
			best = i
		}
	}
	return best
}

// SetEvictionStrategy implements Pool.
func (p *pool) SetEvictionStrategy(s EvictionStrategy) {
	if s == nil {
		s = lru{}
	}
	p.mu.Lock()
	p.strategy = s
	p.mu.Unlock()
}

// evictLocked closes one idle connection chosen by the strategy and
// reports whether it did. A candidate that gained a lease meanwhile is
// skipped and the strategy asked again.
func (p *pool) evictLocked(reason reasonCode, fx *effects) bool {
	cands, ents := p.idleCandidatesLocked()
	for len(cands) > 0 {
		i := p.strategy.SelectVictim(cands)
		if i < 0 || i >= len(cands) {
			return false
		}
		e := ents[i]
		if e.tryEvict(reason) {
			fx.changes = append(fx.changes, stateChange{e: e, from: stIdle})
			fx.evicts = append(fx.evicts, evictRecord{e, p.strategy.Name()})
			p.removeLocked(e, fx)
			return true
		}
		cands = append(cands[:i], cands[i+1:]...)
		ents = append(ents[:i], ents[i+1:]...)
	}
	return false
}

// idleCandidatesLocked lists idle usable connections sorted by ID.
func (p *pool) idleCandidatesLocked() ([]EntryInfo, []*poolEntry) {
	var ents []*poolEntry
	for _, ks := range p.byKey {
		for _, e := range ks.list() {
			if ctlIdle(e.ctl.Load()) {
				ents = append(ents, e)
			}
		}
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].id < ents[j].id })
	now := p.nowNano()
	cands := make([]EntryInfo, len(ents))
	for i, e := range ents {
		cands[i] = EntryInfo{ID: e.id, Key: e.ks.name, State: StateIdle,
			Created: nanoTime(e.created), LastUsed: nanoTime(e.lastUsedAt(now)),
			LastHealthCheck: nanoTime(e.lastHealth.Load()), Expires: nanoTime(e.expires),
			UseCount: e.uses(), HealthFailures: int64(e.healthFailures.Load()), Metadata: e.meta}
	}
	return cands, ents
}
