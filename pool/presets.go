package pool

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// DevelopmentConfig suits a laptop or a test: small limits, short
// timeouts, fast failure.
func DevelopmentConfig() PoolConfig {
	c := PoolConfig{
		MaxConnections: 10, MaxConnectionsPerKey: 2, MaxSessionsPerConnection: 4,
		WaitTimeout: 5 * time.Second, DialTimeout: 5 * time.Second,
		MaxIdleTime: time.Minute, HealthInterval: 30 * time.Second,
		HealthTimeout: 2 * time.Second, CleanupInterval: 10 * time.Second,
		LeakThreshold: time.Minute, HistorySize: 30,
	}
	c.SetDefaults()
	return c
}

// ProductionConfig is a balanced default for a service managing a fleet:
// connections live at most an hour (with jitter), idle ones go after 15
// minutes, health probes every 30s.
func ProductionConfig() PoolConfig {
	c := PoolConfig{
		MaxConnections: 200, MaxConnectionsPerKey: 4, MaxSessionsPerConnection: 8,
		WaitTimeout: 30 * time.Second, DialTimeout: 15 * time.Second,
		MaxLifetime: time.Hour, LifetimeJitter: 5 * time.Minute,
		MaxIdleTime: 15 * time.Minute, HealthInterval: 30 * time.Second,
		HealthTimeout: 5 * time.Second, CleanupInterval: time.Minute,
		LeakThreshold: 10 * time.Minute, HistorySize: 60,
	}
	c.SetDefaults()
	return c
}

// HighThroughputConfig suits many concurrent short commands per key: more
// connections per key, power-of-two balancing, longer idle time.
func HighThroughputConfig() PoolConfig {
	c := ProductionConfig()
	c.MaxConnections = 1000
	c.MaxConnectionsPerKey = 8
	c.MaxSessionsPerConnection = 9
	c.LoadBalancing = PowerOfTwo
	c.MaxIdleTime = 30 * time.Minute
	c.MaxRetries = 5
	c.Advanced.RetryBackoff = 10 * time.Millisecond
	return c
}

// LowMemoryConfig keeps few connections (each idle *ssh.Client costs about
// 38 KB and 6 goroutines client side, ~1.6 MB in sshd): one connection per
// key, short idle time, small history.
func LowMemoryConfig() PoolConfig {
	c := ProductionConfig()
	c.MaxConnections = 20
	c.MaxConnectionsPerKey = 1
	c.MaxIdleTime = 2 * time.Minute
	c.HistorySize = 10
	return c
}

// Workload describes expected use; ApplyTuning turns it into limits.
// Zero fields are ignored.
type Workload struct {
	// Keys is the number of distinct keys (hosts) in use at once.
	Keys int
	// ConcurrencyPerKey is the peak number of concurrent leases per key.
	ConcurrencyPerKey int
	// CommandDuration is the typical duration of one command.
	CommandDuration time.Duration
}

// ApplyTuning adjusts c for w: enough connections per key for the peak
// concurrency at MaxSessionsPerConnection leases each (at most 16), enough
// connections in total for every key at that size, and a WaitTimeout of
// four command durations (1s..5m). It applies defaults first.
func (c *PoolConfig) ApplyTuning(w Workload) {
	c.SetDefaults()
	if w.ConcurrencyPerKey > 0 {
		perKey := (w.ConcurrencyPerKey + c.MaxSessionsPerConnection - 1) / c.MaxSessionsPerConnection
		c.MaxConnectionsPerKey = min(max(perKey, 1), 16)
	}
	if w.Keys > 0 {
		c.MaxConnections = min(max(w.Keys*c.MaxConnectionsPerKey, c.MaxConnectionsPerKey), maxConnectionsLimit)
	}
	if c.MaxConnectionsPerKey > c.MaxConnections {
		c.MaxConnectionsPerKey = c.MaxConnections
	}
	if w.CommandDuration > 0 {
		c.WaitTimeout = min(max(4*w.CommandDuration, time.Second), 5*time.Minute)
	}
	c.WarmupConnections = min(c.WarmupConnections, c.MaxConnectionsPerKey)
}

// KeyLoad is one key's connections at a moment, the input of
// PlanConfigChange.
type KeyLoad struct {
	// Key is the key.
	Key string `json:"key"` // the pool key
	// Open counts the key's open connections (any state).
	Open int `json:"open"`
	// Idle counts its healthy connections without leases.
	Idle int `json:"idle"`
	// Leases counts leases held on its connections.
	Leases int `json:"leases"`
	// PerConn, when known, lists the leases on each open connection; it
	// makes ConfigImpact.OverSessionLimit exact.
	PerConn []int `json:"per_conn,omitempty"`
}

// FieldChange is one config field that differs between two configs.
type FieldChange struct {
	Field string `json:"field"` // the JSON name of the field
	Old   string `json:"old"`   // the old value, JSON-encoded
	New   string `json:"new"`   // the new value, JSON-encoded
}

// ConfigImpact describes what applying a config change to a pool does.
type ConfigImpact struct {
	// Changes lists the fields that differ, by JSON name, sorted.
	Changes []FieldChange `json:"changes"`
	// CloseIdle counts idle connections closed at once to fit lowered
	// limits (per key first, then pool-wide by the eviction strategy).
	CloseIdle int `json:"close_idle"`
	// OverLimitBusy counts busy connections above the new limits; they get
	// no replacement and are closed by cleanup once idle.
	OverLimitBusy int `json:"over_limit_busy"`
	// SessionsResized is true when MaxSessionsPerConnection changes; new
	// leases see the new bound at once, existing leases are not touched.
	SessionsResized bool `json:"sessions_resized"`
	// OverSessionLimit counts connections holding more leases than the new
	// MaxSessionsPerConnection; they take no new leases until below it.
	OverSessionLimit int `json:"over_session_limit"`
	// Notes are human-readable remarks (lifetime, balancing changes).
	Notes []string `json:"notes,omitempty"`
}

// PlanConfigChange computes the impact of moving a pool with the given
// per-key load from old to next. It does nothing; Pool.UpdateConfig applies
// the same rules. Both configs are taken with defaults applied.
func PlanConfigChange(old, next PoolConfig, load []KeyLoad) ConfigImpact {
	old.SetDefaults()
	next.SetDefaults()
	imp := ConfigImpact{Changes: diffConfigs(old, next)}
	imp.SessionsResized = old.MaxSessionsPerConnection != next.MaxSessionsPerConnection
	total, idleLeft := 0, 0
	for _, k := range load {
		over := max(k.Open-next.MaxConnectionsPerKey, 0)
		closed := min(over, k.Idle)
		imp.CloseIdle += closed
		imp.OverLimitBusy += over - closed
		total += k.Open - closed
		idleLeft += k.Idle - closed
		if imp.SessionsResized {
			imp.OverSessionLimit += overSessions(k, next.MaxSessionsPerConnection)
		}
	}
	if over := total - next.MaxConnections; over > 0 {
		closed := min(over, idleLeft)
		imp.CloseIdle += closed
		imp.OverLimitBusy = max(imp.OverLimitBusy, over-closed)
	}
	imp.Notes = planNotes(old, next)
	return imp
}

// overSessions counts k's connections holding more than max leases,
// exactly from PerConn or, without it, as if leases were spread evenly.
func overSessions(k KeyLoad, max int) int {
	if k.PerConn == nil {
		if k.Open > 0 && k.Leases > max*k.Open {
			return k.Open
		}
		return 0
	}
	n := 0
	for _, l := range k.PerConn {
		if l > max {
			n++
		}
	}
	return n
}

func planNotes(old, next PoolConfig) []string {
	var notes []string
	if next.MaxLifetime != old.MaxLifetime {
		notes = append(notes, fmt.Sprintf("MaxLifetime %v→%v applies to connections dialled from now on", old.MaxLifetime, next.MaxLifetime))
	}
	if next.LoadBalancing != old.LoadBalancing {
		notes = append(notes, fmt.Sprintf("load balancing %v→%v applies to the next Get", old.LoadBalancing, next.LoadBalancing))
	}
	return notes
}

// diffConfigs compares the JSON forms of a and b field by field.
func diffConfigs(a, b PoolConfig) []FieldChange {
	am, bm := configMap(a), configMap(b)
	var out []FieldChange
	for k, av := range am {
		if bv := bm[k]; string(av) != string(bv) {
			out = append(out, FieldChange{Field: k, Old: string(av), New: string(bv)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func configMap(c PoolConfig) map[string]json.RawMessage {
	b, _ := json.Marshal(c) // cannot fail: LoadBalancing was validated by the caller or is printed as a number
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(b, &m)
	return m
}
