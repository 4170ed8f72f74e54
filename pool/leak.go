package pool

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"
)

// reportLeaks reports, once each, the leases held past LeakThreshold
// (counted in Snapshot.Leaks, published as EventLeak with the Get's stack
// in debug mode) and returns when the next outstanding lease crosses the
// threshold (unix nanos, 0 if none). It runs on the cleanup goroutine.
func (p *pool) reportLeaks() int64 {
	lt := int64(p.Config().LeakThreshold)
	if lt <= 0 {
		return 0
	}
	now := p.nowNano()
	var next int64
	p.leases.Range(func(k, _ any) bool {
		l := k.(*lease)
		switch due := l.start + lt; {
		case l.released.Load() || l.leaked.Load():
		case now >= due:
			p.reportLeak(l, time.Duration(now-l.start))
		case next == 0 || due < next:
			next = due
		}
		return true
	})
	return next
}

// reportLeak reports l once.
func (p *pool) reportLeak(l *lease, held time.Duration) {
	if !l.leaked.CompareAndSwap(false, true) {
		return
	}
	p.stats.leaks.Add(1)
	p.hi.publish(HealthEvent{Type: EventLeak, Key: l.e.ks.name, ConnID: l.e.id, Held: held, Stack: p.stackOf(l)})
}

// leakReleased reports the release of a lease reported as leaked.
func (p *pool) leakReleased(l *lease) {
	p.hi.publish(HealthEvent{Type: EventLeakReleased, Key: l.e.ks.name, ConnID: l.e.id,
		Held: time.Duration(p.nowNano() - l.start)})
}

// recordStack stores the stack of the Get that took l, on the caller's
// goroutine (a waiter's lease is created on the goroutine that served it).
// Called from Get with DebugLeaks; it skips its own and Get's frames.
func (p *pool) recordStack(l *lease) {
	pcs := make([]uintptr, 32)
	p.stacks.Store(l, pcs[:runtime.Callers(3, pcs)])
}

// stackOf renders the recorded stack of l as "function\n\tfile:line"
// lines, or "" if none was recorded.
func (p *pool) stackOf(l *lease) string {
	v, ok := p.stacks.Load(l)
	if !ok {
		return ""
	}
	var b strings.Builder
	frames := runtime.CallersFrames(v.([]uintptr))
	for {
		f, more := frames.Next()
		fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
		if !more {
			return b.String()
		}
	}
}

// LeaseInfo describes one outstanding lease, for leak reports.
type LeaseInfo struct {
	Key    string        `json:"key"`     // the key
	ConnID uint64        `json:"conn_id"` // the connection's id
	Since  time.Time     `json:"since"`   // when the lease was taken
	Held   time.Duration `json:"held"`    // how long it has been held
}

// Leases implements Pool.
func (p *pool) Leases(minHeld time.Duration) []LeaseInfo {
	now := p.clock()
	var out []LeaseInfo
	p.leases.Range(func(k, _ any) bool {
		l := k.(*lease)
		if held := now.Sub(nanoTime(l.start)); held >= minHeld && !l.released.Load() {
			out = append(out, LeaseInfo{Key: l.e.ks.name, ConnID: l.e.id, Since: nanoTime(l.start), Held: held})
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Held > out[j].Held })
	return out
}
