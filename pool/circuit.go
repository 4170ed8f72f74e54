package pool

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Circuit breaker defaults (AdvancedPoolConfig).
const (
	// DefaultCircuitThreshold is how many consecutive failed dials open a
	// key's circuit.
	DefaultCircuitThreshold = 5
	// DefaultCircuitBaseCooldown is how long a circuit first stays open
	// after failed dials; each failed trial doubles it.
	DefaultCircuitBaseCooldown = time.Second
	// DefaultCircuitCooldown is the longest an open circuit refuses dials
	// before it lets one trial dial through.
	DefaultCircuitCooldown = 30 * time.Second
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
type CircuitState int32

// The circuit states.
const (
	// CircuitClosed lets every dial through.
	CircuitClosed CircuitState = iota
	// CircuitOpen refuses dials with ErrCircuitOpen until the cooldown ends.
	CircuitOpen
	// CircuitHalfOpen has let one trial dial through; its outcome closes or
	// reopens the circuit. Other dials are refused meanwhile.
	CircuitHalfOpen
)

var circuitNames = [...]string{"closed", "open", "half-open"}

// String returns the state's name, such as "half-open".
func (s CircuitState) String() string {
	if s >= 0 && int(s) < len(circuitNames) {
		return circuitNames[s]
	}
	return fmt.Sprintf("CircuitState(%d)", int(s))
}

// MarshalText encodes the state's name.
func (s CircuitState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// circuit is a key's circuit breaker. Every field is guarded by pool.mu.
//
// Closed: dials pass; failures count; AdvancedPoolConfig.CircuitThreshold
// consecutive failures, or one permanent failure (authentication, host
// key, configuration: sshd penalises sources that keep failing auth), open
// it. Open: dials fail fast with ErrCircuitOpen until the cooldown has
// passed. Half-open: exactly one trial dial passes; success closes the
// circuit, failure reopens it for twice the cooldown.
//
// The first cooldown is CircuitBaseCooldown, doubled at each re-open up to
// CircuitCooldown, with ±20 % jitter (capped). Fault tests found that a flat
// 30 s cooldown turned a 0.5 s sshd restart into a 30 s outage of
// fast-failing Gets (TestCircuitShortRestartCostsBaseCooldown). A permanent
// failure opens for CircuitCooldown at once: it will not fix itself in a
// second, and sshd penalises repeated authentication failures.
type circuit struct {
	p        *pool
	key      string
	state    CircuitState
	failures int           // consecutive failed dials
	cooldown time.Duration // the last cooldown before jitter; 0 after a success
	until    int64         // unix nanos: end of the cooldown while open
	lastErr  error         // the last dial error
}

// newCircuit is the pool's default newGuard.
func (p *pool) newCircuit(key string) dialGuard { return &circuit{p: p, key: key} }

// allow implements dialGuard.
func (c *circuit) allow() (HealthEvent, error) {
	if c.p.cfg.Advanced.CircuitThreshold < 0 {
		return HealthEvent{}, nil
	}
	switch c.state {
	case CircuitClosed:
		return HealthEvent{}, nil
	case CircuitOpen:
		if c.p.nowNano() < c.until {
			return HealthEvent{}, c.openErr()
		}
		c.state = CircuitHalfOpen
		return HealthEvent{Type: EventCircuitHalfOpen, Key: c.key, Err: c.lastErr}, nil
	}
	return HealthEvent{}, c.openErr() // half-open: the trial dial is in flight
}

// openErr is the fast error an open circuit returns.
func (c *circuit) openErr() error {
	return &CircuitError{Key: c.key, State: c.state, Until: nanoTime(c.until), Last: c.lastErr}
}

// record implements dialGuard.
func (c *circuit) record(err error) HealthEvent {
	cfg := c.p.cfg.Advanced
	if cfg.CircuitThreshold < 0 {
		return HealthEvent{}
	}
	if Classify(err) == KindCanceled { // canceled by Close: says nothing about the host
		if c.state == CircuitHalfOpen {
			c.state = CircuitOpen // the cooldown is over: the next dial is a new trial
		}
		return HealthEvent{}
	}
	if err == nil {
		was := c.state
		c.state, c.failures, c.cooldown, c.lastErr = CircuitClosed, 0, 0, nil
		if was != CircuitClosed {
			return HealthEvent{Type: EventCircuitClosed, Key: c.key}
		}
		return HealthEvent{}
	}
	c.failures++
	c.lastErr = err
	if c.state == CircuitHalfOpen || c.failures >= cfg.CircuitThreshold || Classify(err).Permanent() {
		c.state = CircuitOpen
		c.until = c.p.nowNano() + int64(c.nextCooldown(cfg, err))
		c.p.stats.circuitOpens.Add(1)
		return HealthEvent{Type: EventCircuitOpen, Key: c.key, Err: err}
	}
	return HealthEvent{}
}

// nextCooldown advances c.cooldown for an opening caused by err and
// returns it jittered: CircuitCooldown for a permanent failure, else the
// base on the first opening and twice the last one on a re-open, capped.
func (c *circuit) nextCooldown(cfg AdvancedPoolConfig, err error) time.Duration {
	switch {
	case Classify(err).Permanent():
		c.cooldown = cfg.CircuitCooldown
		return c.cooldown
	case c.cooldown == 0:
		c.cooldown = cfg.CircuitBaseCooldown
	default:
		c.cooldown = min(2*c.cooldown, cfg.CircuitCooldown)
	}
	return min(jitter(c.cooldown, cooldownJitter), cfg.CircuitCooldown)
}

// jitter returns d scaled by a random factor in [1-f, 1+f).
func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64()))
}

// quiet implements dialGuard.
func (c *circuit) quiet() bool { return c.state == CircuitClosed && c.failures == 0 }

// CircuitError is returned (instead of dialling) while a key's circuit is
// open or its half-open trial dial is in flight. errors.Is(err,
// ErrCircuitOpen) holds, and the last dial error is reachable through it
// (errors.As, Classify).
type CircuitError struct {
	// Key is the key whose dials are suspended.
	Key string
	// State is CircuitOpen or CircuitHalfOpen.
	State CircuitState
	// Until is when the cooldown ends (a trial dial is then let through).
	Until time.Time
	// Last is the last dial error, or nil.
	Last error
}

// Error names the key, the state and the last dial error.
func (e *CircuitError) Error() string {
	return fmt.Sprintf("pool: key %q: circuit %s until %s (last dial error: %v)", e.Key, e.State,
		e.Until.Format(time.RFC3339), e.Last)
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
		return c.state, c.lastErr
	}
	return CircuitClosed, nil
}
