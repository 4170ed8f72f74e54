package pool

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Defaults that SetDefaults applies to zero fields (each field's doc
// states its own).
const (
	defaultMaxConnections           = 100
	defaultMaxConnectionsPerKey     = 4
	defaultMaxSessionsPerConnection = 8 // below OpenSSH's MaxSessions (10)
	defaultDialTimeout              = 15 * time.Second
	defaultHealthTimeout            = 5 * time.Second
	defaultMaxRetries               = 3
	defaultHistorySize              = 60
	defaultRetryBackoff             = 20 * time.Millisecond
	defaultWarmupParallelism        = 4
	defaultHealthInterval           = 30 * time.Second
	defaultCleanupInterval          = 5 * time.Minute
)

// Upper bounds that ValidatePoolConfig enforces.
const (
	maxConnectionsLimit = 1 << 20
	maxSessionsLimit    = 1024
	maxRetriesLimit     = 100
	maxHistoryLimit     = 1 << 16
	maxParallelismLimit = 1024
)

// PoolConfig configures a Pool. It is a plain value: copy it, compare it,
// export it as JSON (durations as strings such as "30s"). Zero fields mean
// "use the default" where a default is listed, otherwise "disabled".
type PoolConfig struct {
	// MaxConnections bounds open connections (plus dials in flight) over
	// all keys. A new key at the limit evicts an idle connection chosen by
	// the eviction strategy, or waits. Default 100; zero means the default.
	MaxConnections int
	// MaxConnectionsPerKey bounds connections to one key. Default 4 (or
	// MaxConnections if smaller); zero means the default.
	MaxConnectionsPerKey int
	// MaxSessionsPerConnection bounds concurrent leases on one connection.
	// Keep it below the server's MaxSessions (OpenSSH: 10). Default 8; zero
	// means the default.
	MaxSessionsPerConnection int
	// WaitTimeout bounds how long Get waits for a lease, in addition to the
	// caller's context. Zero means only the context bounds the wait.
	WaitTimeout time.Duration
	// DialTimeout bounds one dial (TCP, handshake, authentication). Default
	// 15s; zero means the default.
	DialTimeout time.Duration
	// MaxLifetime is how long a connection may be handed out after it was
	// dialled; an older one gets no new leases and is closed once its
	// leases end. Checked at every Get. Zero means no limit; else at least
	// 1s, so a connection outlives its own dial.
	MaxLifetime time.Duration
	// LifetimeJitter subtracts a random duration in [0, LifetimeJitter) from
	// each connection's MaxLifetime so connections do not all expire at
	// once. Must not exceed MaxLifetime. Zero means no jitter.
	LifetimeJitter time.Duration
	// MaxIdleTime is how long a connection may stay without leases before
	// cleanup closes it. Zero means idle connections are kept.
	MaxIdleTime time.Duration
	// HealthInterval is the period of the background health probes that
	// Pool.Start runs (shortened by up to 10 % of jitter, never longer):
	// idle connections, and busy ones without a release for an interval,
	// are probed. Default 30s; zero means the default; negative disables
	// the loop (read at Start). DialTimeout, HealthInterval, HealthTimeout,
	// CleanupInterval, MaxIdleTime and LeakThreshold, when positive, must
	// be at least 1ms: smaller values are taken for unit mistakes.
	HealthInterval time.Duration
	// HealthTimeout bounds one health probe; a probe that times out closes
	// its client. Default 5s; zero means the default. Must not exceed
	// HealthInterval.
	HealthTimeout time.Duration
	// CleanupInterval is the longest pause between the cleanup passes that
	// Pool.Start runs (idle time, lifetime, lowered limits, leaks); a pass
	// re-arms sooner when the next expiry is nearer. Default 5m; zero means
	// the default; negative disables the loop (read at Start).
	CleanupInterval time.Duration
	// LeakThreshold is how long a lease may be held before the cleanup
	// loop reports it (once) as a possible leak: Snapshot.Leaks, an
	// EventLeak health event, and EventLeakReleased if it is released
	// later. Zero means no leak reports (and no lease registry).
	LeakThreshold time.Duration
	// WarmupKeys are the keys Warmup dials ahead of demand.
	WarmupKeys []string
	// WarmupConnections is how many connections Warmup opens per warm-up
	// key. Zero means none; at most MaxConnectionsPerKey.
	WarmupConnections int
	// LoadBalancing picks among a key's connections with a free slot.
	// Default LeastLoaded; empty means the default.
	LoadBalancing LoadBalancing
	// MaxRetries is how many times Run retries a command the server refused
	// as over its session limit (failure.SessionLimit), with short backoff.
	// Default 3; zero means the default; negative means no retries at all,
	// including Run's retry of a command that failed before it started
	// (ErrNotStarted).
	MaxRetries int
	// HistorySize is how many past snapshots (Pool.History, one per
	// health tick) the pool keeps. Default 60; zero means the default.
	HistorySize int
	// Advanced holds rarely changed settings.
	Advanced AdvancedPoolConfig
}

// AdvancedPoolConfig holds settings few callers change.
type AdvancedPoolConfig struct {
	// Clock returns the current time. Nil means time.Now. Tests inject a
	// fake clock to drive lifetimes without sleeping. It is fixed when the
	// pool is created (UpdateConfig keeps it) and not exported to JSON.
	Clock func() time.Time `json:"-"`
	// HealthMonitor probes connections for HealthCheck and the health
	// loop. Nil means a keepalive@openssh.com request with
	// want-reply; a PoolHealthMonitor configures probes per key. Like
	// Clock, it is fixed when the pool is created (UpdateConfig keeps it)
	// and not exported to JSON.
	HealthMonitor HealthMonitor `json:"-"`
	// RetryBackoff is the base pause before a session-limit retry in Run;
	// attempt n waits about n×RetryBackoff with jitter. Default 20ms; zero
	// means the default.
	RetryBackoff time.Duration
	// WarmupParallelism bounds concurrent dials during Warmup. Default 4;
	// zero means the default.
	WarmupParallelism int
	// CircuitThreshold is how many consecutive failed dials of a key open
	// its circuit breaker; a permanent failure (authentication, host key,
	// configuration) opens it at once. Default 5; zero means the default;
	// negative disables the breaker.
	CircuitThreshold int
	// CircuitBaseCooldown is how long a key's circuit stays open the
	// first time it opens; each failed trial dial doubles it (±20 %
	// jitter) up to CircuitCooldown, and a successful trial resets it.
	// Short, so that a server restart costs a fraction of a second.
	// Default 200ms (or CircuitCooldown if smaller); zero means the
	// default. Must not exceed CircuitCooldown.
	CircuitBaseCooldown time.Duration
	// CircuitCooldown is the longest an open circuit fails dials fast with
	// ErrCircuitOpen before it lets one trial dial through, whatever the
	// failure (a host key or authorized_keys fixed on the server is seen
	// only by a trial): the cap of the doubling cooldown, so a key that
	// keeps failing is dialled at most once per CircuitCooldown, and
	// serves again at most about CircuitCooldown after its fault ends.
	// Pool.RetryNow skips the wait when something on this side changed.
	// Authentication failures have their own floor, CircuitAuthCooldown.
	// Default 1s; zero means the default.
	CircuitCooldown time.Duration
	// CircuitAuthCooldown is the least pause between trials of a key whose
	// authentication failed twice or more in a row (jittered upwards by up
	// to 20 %). OpenSSH 9.8 and later add 5 s of penalty per failed
	// authentication, running down at one second a second, and refuse
	// every connection from a source that has accrued 15 s
	// (PerSourcePenalties, on by default): trials a second apart would lock
	// the service out of the host, for every key, within seconds; one per
	// 5 s accrues nothing. A key authorized again on the server is then
	// served within about CircuitAuthCooldown; a fix on this side
	// (Pool.RetryNow) at once. Default 5s; zero means the default;
	// negative removes the floor (for servers without such penalties).
	CircuitAuthCooldown time.Duration
	// WarmupBackoffMax is the ceiling of the pause between background
	// dials of a warm-up key that keeps failing permanently
	// (authentication, host key, configuration): the health loop tops a
	// warm-up key up without a caller waiting, and after each such failed
	// top-up it waits twice as long as before (starting at one
	// HealthInterval), up to this ceiling, reporting each failure
	// (Snapshot.WarmupFailures, EventWarmupBackoff). A key whose server is
	// down is topped up at every tick. A successful dial or
	// Pool.RetryNow ends the backoff; Gets are not held back by it (they
	// dial on the circuit's schedule). Default 5m; zero means the default.
	WarmupBackoffMax time.Duration
	// DebugLeaks records the stack of every Get while LeakThreshold > 0
	// and attaches it to leak reports (EventLeak.Stack). It costs an
	// allocation and a stack walk per Get: for debugging only.
	DebugLeaks bool
}

// SetDefaults replaces zero fields that have a default with that default.
func (c *PoolConfig) SetDefaults() {
	setInt(&c.MaxConnections, defaultMaxConnections)
	if c.MaxConnections > 0 { // a small pool gets a per-key default that fits it
		setInt(&c.MaxConnectionsPerKey, min(defaultMaxConnectionsPerKey, c.MaxConnections))
	}
	setInt(&c.MaxSessionsPerConnection, defaultMaxSessionsPerConnection)
	setInt(&c.MaxRetries, defaultMaxRetries)
	if c.LoadBalancing == "" {
		c.LoadBalancing = LeastLoaded
	}
	setInt(&c.HistorySize, defaultHistorySize)
	setInt(&c.Advanced.WarmupParallelism, defaultWarmupParallelism)
	setDur(&c.DialTimeout, defaultDialTimeout)
	setDur(&c.HealthTimeout, defaultHealthTimeout)
	setDur(&c.Advanced.RetryBackoff, defaultRetryBackoff)
	setDur(&c.HealthInterval, defaultHealthInterval)
	setDur(&c.CleanupInterval, defaultCleanupInterval)
	setInt(&c.Advanced.CircuitThreshold, defaultCircuitThreshold)
	setDur(&c.Advanced.CircuitCooldown, defaultCircuitCooldown)
	setDur(&c.Advanced.WarmupBackoffMax, defaultWarmupBackoffMax)
	setDur(&c.Advanced.CircuitAuthCooldown, defaultCircuitAuthCooldown)
	if c.Advanced.CircuitCooldown > 0 { // a short cap gets a base that fits it
		setDur(&c.Advanced.CircuitBaseCooldown, min(defaultCircuitBaseCooldown, c.Advanced.CircuitCooldown))
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setDur(p *time.Duration, def time.Duration) {
	if *p == 0 {
		*p = def
	}
}

// ValidatePoolConfig reports every problem in cfg, each a *FieldError
// naming the field and its allowed range, joined with errors.Join. Zero
// fields are valid (they mean the default or "disabled"). It returns nil
// for a valid config.
func ValidatePoolConfig(cfg PoolConfig) error {
	return ValidatePoolConfigNamed(cfg, nil)
}

// ValidatePoolConfigNamed is ValidatePoolConfig with every field named by
// name(goName) in the errors (FieldError.Name and Want), so that a
// configuration file's loader reports its own keys ("pool.max_connections")
// instead of Go field names. A nil name keeps the Go names ("MaxConnections",
// "Advanced.CircuitCooldown").
func ValidatePoolConfigNamed(cfg PoolConfig, name func(goName string) string) error {
	if name == nil {
		name = func(f string) string { return f }
	}
	v := validator{name: name}
	v.validate(cfg)
	return errors.Join(v.errs...)
}

// validator collects FieldErrors, naming fields with name.
type validator struct {
	name func(string) string
	errs []error
}

// check records a FieldError for field unless ok; want is a format whose
// %s verbs are filled with the names of the fields in refs.
func (v *validator) check(ok bool, field string, value any, want string, refs ...string) {
	if ok {
		return
	}
	names := make([]any, len(refs))
	for i, r := range refs {
		names[i] = v.name(r)
	}
	v.errs = append(v.errs, &FieldError{Field: field, Name: v.name(field), Value: value, Want: fmt.Sprintf(want, names...)})
}

func (v *validator) validate(cfg PoolConfig) {
	d := cfg
	d.SetDefaults()
	v.check(inRange(d.MaxSessionsPerConnection, 1, maxSessionsLimit), "MaxSessionsPerConnection", d.MaxSessionsPerConnection, fmt.Sprintf("1..%d", maxSessionsLimit))
	if !inRange(d.MaxConnections, 1, maxConnectionsLimit) {
		v.check(false, "MaxConnections", d.MaxConnections, fmt.Sprintf("1..%d", maxConnectionsLimit))
	} else { // the checks below are relative to a valid MaxConnections
		v.check(inRange(d.MaxConnectionsPerKey, 1, d.MaxConnections), "MaxConnectionsPerKey", d.MaxConnectionsPerKey, "1..%s "+paren(d.MaxConnections), "MaxConnections")
		v.check(inRange(d.WarmupConnections, 0, d.MaxConnectionsPerKey), "WarmupConnections", d.WarmupConnections, "0..%s "+paren(d.MaxConnectionsPerKey), "MaxConnectionsPerKey")
		if n := len(d.WarmupKeys) * d.WarmupConnections; n > d.MaxConnections {
			v.errs = append(v.errs, &FieldError{Field: "WarmupConnections", Name: v.name("WarmupKeys") + "×" + v.name("WarmupConnections"),
				Value: n, Want: "at most " + v.name("MaxConnections") + " " + paren(d.MaxConnections)})
		}
	}
	v.check(d.MaxRetries <= maxRetriesLimit, "MaxRetries", d.MaxRetries, fmt.Sprintf("negative (none) or 0..%d", maxRetriesLimit))
	v.check(inRange(d.HistorySize, 1, maxHistoryLimit), "HistorySize", d.HistorySize, fmt.Sprintf("1..%d", maxHistoryLimit))
	v.check(inRange(d.Advanced.WarmupParallelism, 1, maxParallelismLimit), "Advanced.WarmupParallelism", d.Advanced.WarmupParallelism, fmt.Sprintf("1..%d", maxParallelismLimit))
	v.check(d.Advanced.CircuitThreshold <= maxRetriesLimit, "Advanced.CircuitThreshold", d.Advanced.CircuitThreshold, fmt.Sprintf("negative (disabled) or 1..%d", maxRetriesLimit))
	v.check(validBalance(d.LoadBalancing), "LoadBalancing", string(d.LoadBalancing), "least-loaded, round-robin or power-of-two")
	v.durations(d)
	v.circuit(d.Advanced)
	for i, k := range d.WarmupKeys {
		v.check(k != "", fmt.Sprintf("WarmupKeys[%d]", i), k, "a key")
	}
}

// paren formats a referenced field's value: "(100)".
func paren(x any) string { return fmt.Sprintf("(%v)", x) }

func (v *validator) durations(d PoolConfig) {
	durs := []struct {
		name string
		v    time.Duration
	}{
		{"WaitTimeout", d.WaitTimeout}, {"DialTimeout", d.DialTimeout},
		{"MaxLifetime", d.MaxLifetime}, {"LifetimeJitter", d.LifetimeJitter},
		{"MaxIdleTime", d.MaxIdleTime}, {"HealthTimeout", d.HealthTimeout},
		{"LeakThreshold", d.LeakThreshold}, {"Advanced.RetryBackoff", d.Advanced.RetryBackoff},
		{"Advanced.WarmupBackoffMax", d.Advanced.WarmupBackoffMax},
	}
	for _, x := range durs {
		v.check(x.v >= 0, x.name, x.v, ">= 0 (0 = default or disabled)")
	}
	// A positive duration below its floor is almost always a unit mistake
	// (time.Duration(30) is 30ns, not 30s) with bad effects: a loop that
	// spins, a probe that cannot answer and replaces every connection, or a
	// connection that expires before its own dial ends, so that every Get
	// dials again until its context ends.
	floors := []struct {
		name     string
		v, floor time.Duration
	}{
		{"DialTimeout", d.DialTimeout, time.Millisecond}, {"HealthInterval", d.HealthInterval, time.Millisecond},
		{"HealthTimeout", d.HealthTimeout, time.Millisecond}, {"CleanupInterval", d.CleanupInterval, time.Millisecond},
		{"MaxIdleTime", d.MaxIdleTime, time.Millisecond}, {"LeakThreshold", d.LeakThreshold, time.Millisecond},
		{"Advanced.WarmupBackoffMax", d.Advanced.WarmupBackoffMax, time.Millisecond},
		{"Advanced.CircuitAuthCooldown", d.Advanced.CircuitAuthCooldown, time.Millisecond},
		{"MaxLifetime", d.MaxLifetime, time.Second},
	}
	for _, x := range floors {
		if x.v > 0 && x.v < x.floor {
			v.errs = append(v.errs, &FieldError{Field: x.name, Name: v.name(x.name), Value: x.v,
				Want: fmt.Sprintf("0 or at least %v", x.floor), Hint: "a time.Duration counts nanoseconds: write 30*time.Second, not 30"})
		}
	}
	v.check(d.LifetimeJitter <= 0 || d.LifetimeJitter <= d.MaxLifetime, "LifetimeJitter", d.LifetimeJitter, "0..%s "+paren(d.MaxLifetime), "MaxLifetime")
	v.check(d.HealthInterval <= 0 || d.HealthTimeout <= d.HealthInterval, "HealthTimeout", d.HealthTimeout, "1ns..%s "+paren(d.HealthInterval), "HealthInterval")
}

// circuit checks the breaker's cooldowns (after SetDefaults):
// 0 < CircuitBaseCooldown <= CircuitCooldown, unless the breaker is
// disabled (negative CircuitThreshold), when they are not used.
func (v *validator) circuit(a AdvancedPoolConfig) {
	if a.CircuitThreshold < 0 {
		return
	}
	if a.CircuitCooldown <= 0 {
		v.check(false, "Advanced.CircuitCooldown", a.CircuitCooldown, fmt.Sprintf("> 0 (0 = default %v)", defaultCircuitCooldown))
		return
	}
	v.check(a.CircuitBaseCooldown > 0 && a.CircuitBaseCooldown <= a.CircuitCooldown, "Advanced.CircuitBaseCooldown", a.CircuitBaseCooldown,
		"1ns..%s "+paren(a.CircuitCooldown)+" (0 = default)", "CircuitCooldown")
}

func inRange(v, lo, hi int) bool { return v >= lo && v <= hi }

func validBalance(b LoadBalancing) bool { _, ok := b.code(); return ok }

// LoadBalancing selects how Get picks among a key's connections that have
// a free slot. Its constants are the names configuration files and JSON
// use; the empty string means LeastLoaded.
type LoadBalancing string

// The load-balancing modes.
const (
	// LeastLoaded picks the connection with the fewest leases (ties: the
	// first). It is the default.
	LeastLoaded LoadBalancing = "least-loaded"
	// RoundRobin rotates over the key's connections.
	RoundRobin LoadBalancing = "round-robin"
	// PowerOfTwo samples two connections at random and takes the less
	// loaded one ("power of two choices"), falling back to LeastLoaded when
	// both are full.
	PowerOfTwo LoadBalancing = "power-of-two"
)

// code returns the mode as the pool's hot path reads it, and
// whether b names a mode.
func (b LoadBalancing) code() (int32, bool) {
	switch b {
	case LeastLoaded, "":
		return balanceLeastLoaded, true
	case RoundRobin:
		return balanceRoundRobin, true
	case PowerOfTwo:
		return balancePowerOfTwo, true
	}
	return balanceLeastLoaded, false
}

// The modes' codes, stored in pool.balance.
const (
	balanceLeastLoaded int32 = iota
	balanceRoundRobin
	balancePowerOfTwo
)

// jsonDuration encodes a time.Duration as a string such as "1m30s".
type jsonDuration time.Duration

// MarshalText encodes d with time.Duration.String.
func (d jsonDuration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText decodes a time.ParseDuration string.
func (d *jsonDuration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("pool: config: %w", err)
	}
	*d = jsonDuration(v)
	return nil
}

// configJSON is PoolConfig's JSON shape: durations as strings.
type configJSON struct {
	MaxConnections           int           `json:"max_connections"`
	MaxConnectionsPerKey     int           `json:"max_connections_per_key"`
	MaxSessionsPerConnection int           `json:"max_sessions_per_connection"`
	WaitTimeout              jsonDuration  `json:"wait_timeout"`
	DialTimeout              jsonDuration  `json:"dial_timeout"`
	MaxLifetime              jsonDuration  `json:"max_lifetime"`
	LifetimeJitter           jsonDuration  `json:"lifetime_jitter"`
	MaxIdleTime              jsonDuration  `json:"max_idle_time"`
	HealthInterval           jsonDuration  `json:"health_interval"`
	HealthTimeout            jsonDuration  `json:"health_timeout"`
	CleanupInterval          jsonDuration  `json:"cleanup_interval"`
	LeakThreshold            jsonDuration  `json:"leak_threshold"`
	WarmupKeys               []string      `json:"warmup_keys,omitempty"`
	WarmupConnections        int           `json:"warmup_connections"`
	LoadBalancing            LoadBalancing `json:"load_balancing"`
	MaxRetries               int           `json:"max_retries"`
	HistorySize              int           `json:"history_size"`
	RetryBackoff             jsonDuration  `json:"retry_backoff"`
	WarmupParallelism        int           `json:"warmup_parallelism"`
	CircuitThreshold         int           `json:"circuit_threshold,omitempty"`
	CircuitBaseCooldown      jsonDuration  `json:"circuit_base_cooldown,omitempty"`
	CircuitCooldown          jsonDuration  `json:"circuit_cooldown,omitempty"`
	CircuitAuthCooldown      jsonDuration  `json:"circuit_auth_cooldown,omitempty"`
	DebugLeaks               bool          `json:"debug_leaks,omitempty"`
	WarmupBackoffMax         jsonDuration  `json:"warmup_backoff_max,omitempty"`
}

// MarshalJSON exports the config with durations as strings ("30s"). The
// clock and the health monitor are not exported. The config holds no secrets.
func (c PoolConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{
		c.MaxConnections, c.MaxConnectionsPerKey, c.MaxSessionsPerConnection,
		jsonDuration(c.WaitTimeout), jsonDuration(c.DialTimeout), jsonDuration(c.MaxLifetime),
		jsonDuration(c.LifetimeJitter), jsonDuration(c.MaxIdleTime), jsonDuration(c.HealthInterval),
		jsonDuration(c.HealthTimeout), jsonDuration(c.CleanupInterval), jsonDuration(c.LeakThreshold),
		c.WarmupKeys, c.WarmupConnections, c.LoadBalancing, c.MaxRetries, c.HistorySize,
		jsonDuration(c.Advanced.RetryBackoff), c.Advanced.WarmupParallelism,
		c.Advanced.CircuitThreshold, jsonDuration(c.Advanced.CircuitBaseCooldown),
		jsonDuration(c.Advanced.CircuitCooldown), jsonDuration(c.Advanced.CircuitAuthCooldown),
		c.Advanced.DebugLeaks, jsonDuration(c.Advanced.WarmupBackoffMax),
	})
}

// UnmarshalJSON imports what MarshalJSON exports. Missing fields stay
// zero; Advanced.Clock and Advanced.HealthMonitor are left unchanged.
func (c *PoolConfig) UnmarshalJSON(b []byte) error {
	var j configJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("pool: config: %w", err)
	}
	if !validBalance(j.LoadBalancing) {
		return fmt.Errorf("pool: config: load_balancing %q, want least-loaded, round-robin or power-of-two", j.LoadBalancing)
	}
	clock, health := c.Advanced.Clock, c.Advanced.HealthMonitor
	*c = PoolConfig{
		j.MaxConnections, j.MaxConnectionsPerKey, j.MaxSessionsPerConnection,
		time.Duration(j.WaitTimeout), time.Duration(j.DialTimeout), time.Duration(j.MaxLifetime),
		time.Duration(j.LifetimeJitter), time.Duration(j.MaxIdleTime), time.Duration(j.HealthInterval),
		time.Duration(j.HealthTimeout), time.Duration(j.CleanupInterval), time.Duration(j.LeakThreshold),
		j.WarmupKeys, j.WarmupConnections, j.LoadBalancing, j.MaxRetries, j.HistorySize,
		AdvancedPoolConfig{clock, health, time.Duration(j.RetryBackoff), j.WarmupParallelism,
			j.CircuitThreshold, time.Duration(j.CircuitBaseCooldown), time.Duration(j.CircuitCooldown),
			time.Duration(j.CircuitAuthCooldown), time.Duration(j.WarmupBackoffMax), j.DebugLeaks},
	}
	return nil
}
