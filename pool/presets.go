package pool

import "time"

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
