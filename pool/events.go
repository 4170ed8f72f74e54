package pool

import (
	"sync"
	"sync/atomic"
	"time"
)

// HealthEventType says what a HealthEvent reports.
type HealthEventType string

// The health and lifecycle events.
const (
	// EventProbeFailed: a health probe failed (ConnID, Err, RTT).
	EventProbeFailed HealthEventType = "probe-failed"
	// EventUnhealthy: a connection was marked unhealthy (probe failures
	// past the threshold, a connection-level error, MarkUnhealthy).
	EventUnhealthy HealthEventType = "unhealthy"
	// EventLost: a connection died on its own (its client's Done closed).
	EventLost HealthEventType = "lost"
	// EventReplacing: a background dial started to replace a connection.
	EventReplacing HealthEventType = "replacing"
	// EventCircuitOpen: a key's circuit opened (Err is the dial error).
	// Published when a closed circuit opens, not again for each failed
	// trial while it stays open.
	EventCircuitOpen HealthEventType = "circuit-open"
	// EventCircuitHalfOpen: the cooldown ended; one trial dial passes.
	EventCircuitHalfOpen HealthEventType = "circuit-half-open"
	// EventCircuitClosed: a dial succeeded; the circuit closed again.
	EventCircuitClosed HealthEventType = "circuit-closed"
	// EventLeak: a lease was held past LeakThreshold (Held; Stack in
	// debug mode). Reported once per lease.
	EventLeak HealthEventType = "leak"
	// EventLeakReleased: a lease reported as leaked was released after all.
	EventLeakReleased HealthEventType = "leak-released"
	// EventWarmupBackoff: a background dial of a warm-up key (the health
	// loop topping it up, no caller waiting) failed permanently
	// (authentication, host key, configuration); the key's next background
	// dial waits Backoff, which doubles with each failure up to
	// AdvancedPoolConfig.WarmupBackoffMax (Err, Backoff, Failures). Gets
	// still dial on the circuit's own schedule.
	EventWarmupBackoff HealthEventType = "warmup-backoff"
)

// HealthEvent is one health or lifecycle event, published to subscribers
// (Pool.SubscribeHealth) and to the Tracer.HealthEvent hook.
type HealthEvent struct {
	Time   time.Time       // when the pool noticed
	Type   HealthEventType // what happened
	Key    string          // the pool key
	ConnID uint64          // the connection's id; 0 for key-level events
	Err    error           // the cause, or nil
	RTT    time.Duration   // probe round trip (EventProbeFailed)
	Held   time.Duration   // how long the lease was held (leak events)
	Stack  string          // the Get's stack (EventLeak with DebugLeaks)
	// Backoff is the pause before the key's next background dial and
	// Failures how many background dials failed in a row
	// (EventWarmupBackoff).
	Backoff  time.Duration
	Failures int
}

// healthEvents is a pool's health-event feed: the events of its
// probes, retirements, replacements, circuits and leak reports reach every
// Subscribe channel and the pool's Tracer.HealthEvent hook.
// Get it with Pool.Health; it lives as long as the pool.
type healthEvents struct {
	hook    func(HealthEvent) // the pool's Tracer.HealthEvent, or nil; fixed at construction
	clock   func() time.Time  // stamps events without a Time; fixed at construction
	dropped atomic.Int64      // events not delivered to a full subscriber
	nsubs   atomic.Int32      // len(subs): skip publishing when zero

	// mu guards subs. Sends happen under it (non-blocking) so a cancel
	// never races a send on a closed channel. Lock order: pool.mu is never
	// held when mu is taken.
	mu   sync.Mutex
	subs map[chan HealthEvent]struct{}
}

// Subscribe returns a channel receiving health events and a cancel
// function that unsubscribes and closes the channel (idempotent). Sends
// never block the pool: when the channel's buffer (at least 1) is full,
// the event is dropped and counted in Snapshot.EventsDropped.
func (h *healthEvents) subscribe(buffer int) (<-chan HealthEvent, func()) {
	ch := make(chan HealthEvent, max(buffer, 1))
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan HealthEvent]struct{}{}
	}
	h.subs[ch] = struct{}{}
	h.nsubs.Add(1)
	h.mu.Unlock()
	var once sync.Once
	return ch, func() { once.Do(func() { h.unsubscribe(ch) }) }
}

func (h *healthEvents) unsubscribe(ch chan HealthEvent) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.nsubs.Add(-1)
	close(ch)
	h.mu.Unlock()
}

// publish stamps ev and hands it to the tracer and every subscriber.
func (h *healthEvents) publish(ev HealthEvent) {
	if ev.Time.IsZero() {
		ev.Time = h.clock()
	}
	if h.hook != nil {
		h.hook(ev)
	}
	if h.nsubs.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			h.dropped.Add(1)
		}
	}
}

// event queues ev for publishing after the lock is released; an event of
// zero Type (a guard's "nothing happened") is ignored.
func (fx *effects) event(ev HealthEvent) {
	if ev.Type != "" {
		fx.events = append(fx.events, ev)
	}
}
