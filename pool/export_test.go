package pool

import (
	"context"
	"fmt"
	"time"
	"unsafe"
)

// The defaults, for tests that check SetDefaults and the circuit's timing.
const (
	DefaultCircuitAuthCooldown      = defaultCircuitAuthCooldown
	DefaultCircuitBaseCooldown      = defaultCircuitBaseCooldown
	DefaultCircuitCooldown          = defaultCircuitCooldown
	DefaultCircuitThreshold         = defaultCircuitThreshold
	DefaultCleanupInterval          = defaultCleanupInterval
	DefaultDialTimeout              = defaultDialTimeout
	DefaultHealthInterval           = defaultHealthInterval
	DefaultHealthTimeout            = defaultHealthTimeout
	DefaultHistorySize              = defaultHistorySize
	DefaultMaxConnections           = defaultMaxConnections
	DefaultMaxConnectionsPerKey     = defaultMaxConnectionsPerKey
	DefaultMaxRetries               = defaultMaxRetries
	DefaultMaxSessionsPerConnection = defaultMaxSessionsPerConnection
	DefaultRetryBackoff             = defaultRetryBackoff
	DefaultWarmupBackoffMax         = defaultWarmupBackoffMax
	DefaultWarmupParallelism        = defaultWarmupParallelism
)

// RecordSnapshot records a snapshot in the history, as a health tick does.
func RecordSnapshot(pl Pool) Snapshot {
	p := pl.(*pool)
	s := p.GetSnapshot()
	p.hist.add(s)
	return s
}

// ConnID returns the id of the connection behind a lease handle.
func ConnID(c SSHClient) uint64 {
	if l, ok := c.(*lease); ok {
		return l.e.id
	}
	return 0
}

// Underlying returns the pooled client behind a lease handle.
func Underlying(c SSHClient) SSHClient { return c.(*lease).e.client }

// WaitersFor reports how many Gets wait on key.
func WaitersFor(pl Pool, key string) int {
	p := pl.(*pool)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ks := p.byKey[key]; ks != nil {
		return ks.waiters.len()
	}
	return 0
}

// LockPool takes the pool's lock, so a test can hold every locked path
// still while it drives the lock-free ones. It returns the unlock.
func LockPool(pl Pool) func() {
	p := pl.(*pool)
	p.mu.Lock()
	return p.mu.Unlock
}

// Leases reports the leases held on the connection behind c.
func Leases(c SSHClient) int64 { return c.(*lease).e.leases() }

// DialsInFlight reports dials in flight.
func DialsInFlight(pl Pool) int {
	p := pl.(*pool)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dialing
}

// SetMeta annotates the connection behind a lease.
func SetMeta(pl Pool, c SSHClient, k, v string) {
	p := pl.(*pool)
	p.mu.Lock()
	defer p.mu.Unlock()
	c.(*lease).e.setMetaLocked(k, v)
}

// testGuard is a dialGuard for tests.
type testGuard struct {
	err      error
	recorded []error
}

func (g *testGuard) allow() (HealthEvent, error) { return HealthEvent{}, g.err }
func (g *testGuard) record(err error) HealthEvent {
	g.recorded = append(g.recorded, err)
	return HealthEvent{}
}
func (g *testGuard) quiet() bool { return false }

// SetGuardError gives every new key a guard that refuses with err (nil
// allows) and returns a function that reports the recorded dial outcomes
// count.
func SetGuardError(pl Pool, err error) func() int {
	p := pl.(*pool)
	g := &testGuard{err: err}
	p.mu.Lock()
	p.newGuard = func(string) dialGuard { return g }
	p.mu.Unlock()
	return func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(g.recorded)
	}
}

// CheckInvariants verifies the pool's bookkeeping under its lock.
func CheckInvariants(pl Pool) error {
	p := pl.(*pool)
	p.mu.Lock()
	defer p.mu.Unlock()
	total, dialing := 0, 0
	maxS := p.maxSessions.Load()
	for key, ks := range p.byKey {
		list := ks.list()
		if ks.open != len(list) {
			return fmt.Errorf("key %q: open=%d, list=%d", key, ks.open, len(list))
		}
		if n := ks.usedLocked(); n > p.cfg.MaxConnectionsPerKey && !p.overLimit.Load() {
			return fmt.Errorf("key %q: %d connections > MaxConnectionsPerKey %d", key, n, p.cfg.MaxConnectionsPerKey)
		}
		if int(ks.waiting.Load()) != ks.waiters.len() {
			return fmt.Errorf("key %q: waiting=%d, queue=%d", key, ks.waiting.Load(), ks.waiters.len())
		}
		if ks.queued != (ks.waiting.Load() > 0) {
			return fmt.Errorf("key %q: queued=%v, waiting=%d", key, ks.queued, ks.waiting.Load())
		}
		for _, e := range list {
			if q := e.ctl.Load()&ctlQueued != 0; q != ks.queued {
				return fmt.Errorf("key %q conn %d: ctlQueued=%v, key queued=%v", key, e.id, q, ks.queued)
			}
			if n := e.leases(); n > maxS {
				return fmt.Errorf("key %q conn %d: %d leases > %d", key, e.id, n, maxS)
			}
			if e.removed {
				return fmt.Errorf("key %q conn %d: removed but listed", key, e.id)
			}
		}
		total += len(list)
		dialing += ks.dialing
	}
	if total != p.open || dialing != p.dialing {
		return fmt.Errorf("open=%d dialing=%d, counted %d, %d", p.open, p.dialing, total, dialing)
	}
	if n := p.usedLocked(); n > p.cfg.MaxConnections && !p.overLimit.Load() {
		return fmt.Errorf("open+dialing+closing=%d > MaxConnections %d", n, p.cfg.MaxConnections)
	}
	if int(p.nStarved.Load()) != len(p.starved) {
		return fmt.Errorf("nStarved=%d, starved=%d", p.nStarved.Load(), len(p.starved))
	}
	return nil
}

// CloseIdle runs the cleanup seam on the connection behind a released
// lease's entry id.
func CloseIdle(pl Pool, id uint64, reason CloseReason) bool {
	p := pl.(*pool)
	var target *poolEntry
	p.mu.Lock()
	p.forEachEntryLocked(func(e *poolEntry) {
		if e.id == id {
			target = e
		}
	})
	p.mu.Unlock()
	for code, name := range reasonNames {
		if name == reason {
			return target != nil && p.closeIdle(target, reasonCode(code))
		}
	}
	panic("unknown close reason " + string(reason))
}

// CircuitCooldownFor reports key's current circuit cooldown before jitter
// (0 when reset or when the key has no circuit).
func CircuitCooldownFor(pl Pool, key string) time.Duration {
	p := pl.(*pool)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ks := p.byKey[key]; ks != nil {
		if c, ok := ks.guard.(*circuit); ok {
			return c.cooldown
		}
	}
	return 0
}

// EntryLayout reports the size of a pooled connection's entry and the end
// offsets of the hot fields Get and Release read (ctl, name, expires,
// lastUsed, done) and of the key state's (name, conns, waiting), which the
// lock-free path reads for keys with several connections.
func EntryLayout() (entrySize, entryHotEnd, keySize, keyHotEnd uintptr) {
	var e poolEntry
	var ks keyState
	hot := max(unsafe.Offsetof(e.ctl)+8, unsafe.Offsetof(e.name)+16, unsafe.Offsetof(e.expires)+8,
		unsafe.Offsetof(e.done)+8, unsafe.Offsetof(e.ks)+8, unsafe.Offsetof(e.id)+8)
	keyHot := max(unsafe.Offsetof(ks.name)+16, unsafe.Offsetof(ks.conns)+8, unsafe.Offsetof(ks.waiting)+4)
	return unsafe.Sizeof(e), hot, unsafe.Sizeof(ks), keyHot
}

// CleanupLoop returns the start and stop of a cleanup loop of its own for p,
// to run cleanup on a pool that is not started.
func CleanupLoop(p Pool) (start func(context.Context), stop func()) {
	c := &cleanupLoop{p: p.(*pool)}
	return c.start, c.stop
}

// ErrNilConnection is the dial error of a factory that returns neither a
// client nor an error.
var ErrNilConnection = errNilConnection
