package pool

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sshpool/sshpool/failure"
)

// Circuit breaker defaults (AdvancedPoolConfig).
const (
	// defaultCircuitThreshold is how many consecutive failed dials open a
	// key's circuit.
	defaultCircuitThreshold = 5
	// defaultCircuitBaseCooldown is how long a circuit first stays open
	// after failed dials; each failed trial doubles it.
	defaultCircuitBaseCooldown = 200 * time.Millisecond
	// defaultCircuitCooldown is the longest an open circuit refuses dials
	// before it lets one trial dial through: at most one dial a second per
	// failing key while callers keep asking for it.
	defaultCircuitCooldown = time.Second
	// defaultCircuitAuthCooldown is the least pause between trials of a key
	// whose authentication failed twice in a row (see
	// AdvancedPoolConfig.CircuitAuthCooldown).
	defaultCircuitAuthCooldown = 5 * time.Second
	// defaultWarmupBackoffMax is the ceiling of the pause between background
	// dials of a warm-up key that keeps failing (see
	// AdvancedPoolConfig.WarmupBackoffMax).
	defaultWarmupBackoffMax = 5 * time.Minute
)

// cooldownJitter is the relative jitter of a doubling cooldown: ±20 %.
const cooldownJitter = 0.2

// dialGuard is the per-key seam where the circuit breaker sits. allow is
// asked before a dial; an error (wrapping ErrCircuitOpen) fails the key's
// waiters instead of dialling. record is told every dial's outcome. Both
// return the event to publish (zero Type: none); they take no *effects so
// that the hot path's effects value does not escape through the interface
// call. quiet reports whether the guard holds no state worth keeping (the
// key may be forgotten). All run with pool.mu held: they must be fast,
// must not block and must not call the pool.
type dialGuard interface {
	allow() (HealthEvent, error)
	record(err error) HealthEvent
	quiet() bool
}

// CircuitState is the state of a key's circuit breaker.
type CircuitState string

// The circuit states.
const (
	// CircuitClosed lets every dial through.
	CircuitClosed CircuitState = "closed"
	// CircuitOpen refuses dials with ErrCircuitOpen until the cooldown ends.
	CircuitOpen CircuitState = "open"
	// CircuitHalfOpen has let one trial dial through; its outcome closes or
	// reopens the circuit. Other dials are refused meanwhile.
	CircuitHalfOpen CircuitState = "half-open"
)

// phase is a circuit's state as the breaker keeps it; its zero value is
// closed, as a new circuit is.
type phase uint8

const (
	phaseClosed phase = iota
	phaseOpen
	phaseHalfOpen
)

// public returns the phase as a CircuitState.
func (s phase) public() CircuitState {
	switch s {
	case phaseOpen:
		return CircuitOpen
	case phaseHalfOpen:
		return CircuitHalfOpen
	}
	return CircuitClosed
}

// circuit is a key's circuit breaker. Every field is guarded by pool.mu.
//
// Closed: dials pass; failures count; AdvancedPoolConfig.CircuitThreshold
// consecutive failures, or one permanent failure (authentication, host
// key, configuration: sshd penalises sources that keep failing auth), open
// it. Open: dials fail fast with ErrCircuitOpen until the cooldown has
// passed. Half-open: exactly one trial dial (a probe) passes; success
// closes the circuit, failure keeps it open for twice the cooldown.
//
// The probes follow one schedule for every kind of failure: the first
// cooldown is CircuitBaseCooldown (200ms), doubled at each failed probe up
// to CircuitCooldown (1s), with ±20 % jitter (capped); authentication
// failures, which sshd penalises, are held to CircuitAuthCooldown (5s)
// from the second in a row (authFloor). Two incidents shaped
// it. A flat 30 s cooldown turned a 0.5 s sshd restart into a 30 s outage
// of fast-failing Gets (TestCircuitShortRestartCostsBaseCooldown). And a
// permanent failure that opened for the full 30 s kept a key failing for
// 21.8 s after its host key was restored, and a doubling capped at 30 s
// added 6.7 s after a 30 s outage, where the legacy pool took 70 ms
// (TestCircuitRecoversWithinCapAfterLongFault): the host-side fix of a
// "permanent" error (host key restored, authorized_keys repaired) is seen
// by nothing on this side but a probe. The protection is the cap: at most
// one dial per CircuitCooldown per key, and only while callers ask for the
// key, where the legacy pool redialled on every call (hundreds a second).
// A change on this side that may fix the error (known_hosts or identity
// file rewritten, configuration reloaded) need not wait for the schedule:
// Pool.RetryNow rearms the circuit at once (rearm).
//
// Background dials (warm-up top-ups by the health loop, with no caller
// waiting) that fail permanently have a slower schedule of their own on
// top, so that a warm-up key that fails authentication is not redialled
// every health interval for ever: see backgroundAllowed and
// backgroundFailed.
type circuit struct {
	p        *pool
	key      string
	state    phase
	failures int           // consecutive failed dials
	cooldown time.Duration // the last cooldown before jitter; 0 after a success or a rearm
	until    int64         // unix nanos: end of the cooldown while open
	lastErr  error         // the last dial error
	// rearmed is set by a rearm while a trial is in flight: the trial read
	// the old inputs, so its failure does not advance the schedule and the
	// next trial may start at once.
	rearmed bool

	// The background schedule: bgDelay is the last pause before jitter (0:
	// none yet), bgUntil (unix nanos) when the next background dial may
	// start, bgFails the background dials failed in a row.
	bgDelay time.Duration
	bgUntil int64
	bgFails int
}

// newCircuit is the pool's default newGuard.
func (p *pool) newCircuit(key string) dialGuard { return &circuit{p: p, key: key} }

// allow implements dialGuard.
func (c *circuit) allow() (HealthEvent, error) {
	if c.p.cfg.Advanced.CircuitThreshold < 0 {
		return HealthEvent{}, nil
	}
	switch c.state {
	case phaseClosed:
		return HealthEvent{}, nil
	case phaseOpen:
		if c.p.nowNano() < c.until {
			return HealthEvent{}, c.openErr()
		}
		c.state = phaseHalfOpen
		return HealthEvent{Type: EventCircuitHalfOpen, Key: c.key, Err: c.lastErr}, nil
	}
	return HealthEvent{}, c.openErr() // half-open: the trial dial is in flight
}

// openErr is the fast error an open circuit returns.
func (c *circuit) openErr() error {
	return &CircuitError{Key: c.key, State: c.state.public(), Until: nanoTime(c.until), Last: c.lastErr}
}

// record implements dialGuard. Only the closed-to-open transition counts
// as an opening (Snapshot.phaseOpens, EventCircuitOpen): a failed probe
// keeps the circuit open, and at one probe a second an event per probe
// would drown the logs.
func (c *circuit) record(err error) HealthEvent {
	cfg := c.p.cfg.Advanced
	if cfg.CircuitThreshold < 0 {
		return HealthEvent{}
	}
	if failure.Classify(err) == failure.Canceled { // canceled by Close: says nothing about the host
		if c.state == phaseHalfOpen {
			c.state = phaseOpen // the cooldown is over: the next dial is a new trial
		}
		return HealthEvent{}
	}
	if err == nil {
		was := c.state
		*c = circuit{p: c.p, key: c.key}
		if was != phaseClosed {
			return HealthEvent{Type: EventCircuitClosed, Key: c.key}
		}
		return HealthEvent{}
	}
	c.failures++
	c.lastErr = err
	was := c.state
	switch {
	case was == phaseHalfOpen && c.rearmed: // the trial predates the change
		c.state, c.rearmed, c.until = phaseOpen, false, c.p.nowNano()
		return HealthEvent{}
	case was == phaseHalfOpen, c.failures >= cfg.CircuitThreshold, failure.Classify(err).Permanent():
		c.state = phaseOpen
		c.until = c.p.nowNano() + int64(c.nextCooldown(cfg, err))
	default:
		return HealthEvent{}
	}
	if was != phaseClosed {
		return HealthEvent{}
	}
	c.p.stats.circuitOpens.Add(1)
	return HealthEvent{Type: EventCircuitOpen, Key: c.key, Err: err}
}

// nextCooldown advances c.cooldown and returns it jittered: the base at
// the first opening, twice the last one at each failed probe, capped. After
// a second authentication failure in a row the pause is at least
// CircuitAuthCooldown, jittered upwards only (authFloor).
func (c *circuit) nextCooldown(cfg AdvancedPoolConfig, err error) time.Duration {
	if c.cooldown == 0 {
		c.cooldown = cfg.CircuitBaseCooldown
	} else {
		c.cooldown = min(2*c.cooldown, cfg.CircuitCooldown)
	}
	d := min(jitter(c.cooldown, cooldownJitter), cfg.CircuitCooldown)
	if c.failures > 1 && failure.Classify(err) == failure.Auth && cfg.CircuitAuthCooldown > 0 {
		d = max(d, authFloor(cfg.CircuitAuthCooldown))
	}
	return d
}

// authFloor returns a pause in [floor, 1.2×floor): never below floor, so
// that trials against a host that refuses our key stay at most one per
// floor, which sshd's per-source penalties do not accrue on (see
// AdvancedPoolConfig.CircuitAuthCooldown). A first failure still gets a
// quick second trial (CircuitBaseCooldown): an authorized_keys being
// rewritten heals at once.
func authFloor(floor time.Duration) time.Duration {
	return time.Duration(float64(floor) * (1 + cooldownJitter*rand.Float64()))
}

// rearm lets the next dial through at once and restarts the schedule,
// because something that may fix the last failure changed (Pool.RetryNow).
// A trial in flight is marked so that its failure does not count. It
// reports whether the circuit was not closed.
func (c *circuit) rearm() bool {
	c.bgDelay, c.bgUntil, c.bgFails = 0, 0, 0
	switch c.state {
	case phaseOpen:
		c.cooldown, c.until = 0, c.p.nowNano()
		return true
	case phaseHalfOpen:
		c.cooldown, c.rearmed = 0, true
		return true
	}
	return false
}

// backgroundAllowed reports whether a background dial (no caller waiting)
// may start now: not before the background schedule's next slot.
func (c *circuit) backgroundAllowed() bool { return c.p.nowNano() >= c.bgUntil }

// backgroundFailed advances the background schedule after a background
// dial failed permanently and returns the EventWarmupBackoff to publish. The pause
// starts at base (the health loop's period: the next tick), doubles at each
// failure up to AdvancedPoolConfig.WarmupBackoffMax, with ±20 % jitter
// (capped), and resets when a dial succeeds or on Pool.RetryNow.
func (c *circuit) backgroundFailed(err error, base time.Duration) HealthEvent {
	ceiling := c.p.cfg.Advanced.WarmupBackoffMax
	if c.bgDelay == 0 {
		c.bgDelay = min(base, ceiling)
	} else {
		c.bgDelay = min(2*c.bgDelay, ceiling)
	}
	c.bgFails++
	d := min(jitter(c.bgDelay, cooldownJitter), ceiling)
	c.bgUntil = c.p.nowNano() + int64(d)
	return HealthEvent{Type: EventWarmupBackoff, Key: c.key, Err: err, Backoff: d, Failures: c.bgFails}
}

// jitter returns d scaled by a random factor in [1-f, 1+f).
func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64()))
}

// quiet implements dialGuard.
func (c *circuit) quiet() bool { return c.state == phaseClosed && c.failures == 0 }

// CircuitError is returned (instead of dialling) while a key's circuit is
// open or its half-open trial dial is in flight. errors.Is(err,
// ErrCircuitOpen) holds, and the last dial error is reachable through it
// (errors.As, Classify).
type CircuitError struct {
	// Key is the key whose dials are suspended.
	Key string
	// State is phaseOpen or phaseHalfOpen.
	State CircuitState
	// Until is when the cooldown ends (a trial dial is then let through).
	Until time.Time
	// Last is the last dial error, or nil.
	Last error
}

// untilFormat is RFC 3339 with milliseconds: cooldowns are sub-second.
const untilFormat = "2006-01-02T15:04:05.000Z07:00"

// Error names the key, the state and the last dial error.
func (e *CircuitError) Error() string {
	return fmt.Sprintf("pool: key %q: circuit %s until %s (last dial error: %v)", e.Key, e.State,
		e.Until.Format(untilFormat), e.Last)
}

// Unwrap returns ErrCircuitOpen and the last dial error.
func (e *CircuitError) Unwrap() []error {
	if e.Last == nil {
		return []error{ErrCircuitOpen}
	}
	return []error{ErrCircuitOpen, e.Last}
}

// circuitInfoLocked reports ks's circuit state and last dial error.
func circuitInfoLocked(ks *keyState) (CircuitState, error) {
	if c, ok := ks.guard.(*circuit); ok {
		return c.state.public(), c.lastErr
	}
	return CircuitClosed, nil
}
