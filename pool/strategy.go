package pool

import (
	"sort"
)

// EvictionStrategy chooses which idle connection to close when a key
// needs room at the pool-wide limit (or a lowered limit must be met).
// SelectVictim runs with the pool's lock held, on the goroutine that needs
// the room: it must be fast, must not block, must not call the pool, and
// must not modify candidates or their Metadata.
type EvictionStrategy interface {
	// Name identifies the strategy in traces ("lru").
	Name() string
	// SelectVictim returns the index in candidates of the connection to
	// evict, or -1 to evict none. candidates are idle, usable connections,
	// sorted by ID, never empty.
	SelectVictim(candidates []EntryInfo) int
}

// LRUStrategy evicts the connection idle the longest (least recently
// used; ties go to the older connection). It is the default.
type LRUStrategy struct{}

// Name returns "lru".
func (LRUStrategy) Name() string { return "lru" }

// SelectVictim returns the candidate with the oldest LastUsed.
func (LRUStrategy) SelectVictim(c []EntryInfo) int {
	best := 0
	for i := range c {
		if c[i].LastUsed.Before(c[best].LastUsed) {
			best = i
		}
	}
	return best
}

// FIFOStrategy evicts the oldest connection (first dialled).
type FIFOStrategy struct{}

// Name returns "fifo".
func (FIFOStrategy) Name() string { return "fifo" }

// SelectVictim returns the candidate with the oldest Created.
func (FIFOStrategy) SelectVictim(c []EntryInfo) int {
	best := 0
	for i := range c {
		if c[i].Created.Before(c[best].Created) {
			best = i
		}
	}
	return best
}

// CustomStrategy adapts a function to EvictionStrategy. Select has the
// contract of SelectVictim; a nil Select evicts nothing.
type CustomStrategy struct {
	// StrategyName is returned by Name; empty means "custom".
	StrategyName string
	// Select picks the victim's index, or -1.
	Select func(candidates []EntryInfo) int
}

// Name returns StrategyName or "custom".
func (s CustomStrategy) Name() string {
	if s.StrategyName == "" {
		return "custom"
	}
	return s.StrategyName
}

// SelectVictim calls Select.
func (s CustomStrategy) SelectVictim(c []EntryInfo) int {
	if s.Select == nil {
		return -1
	}
	return s.Select(c)
}

// SetEvictionStrategy implements Pool.
func (p *pool) SetEvictionStrategy(s EvictionStrategy) {
	if s == nil {
		s = LRUStrategy{}
	}
	p.mu.Lock()
	p.strategy = s
	p.mu.Unlock()
}

// evictLocked closes one idle connection chosen by the strategy and
// reports whether it did. A candidate that gained a lease meanwhile is
// skipped and the strategy asked again.
func (p *pool) evictLocked(reason CloseReason, fx *effects) bool {
	cands, ents := p.idleCandidatesLocked()
	for len(cands) > 0 {
		i := p.strategy.SelectVictim(cands)
		if i < 0 || i >= len(cands) {
			return false
		}
		e := ents[i]
		if e.tryEvict(reason) {
			fx.changes = append(fx.changes, stateChange{e: e, from: StateIdle})
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
