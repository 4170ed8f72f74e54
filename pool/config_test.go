package pool_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/pool"
)

func TestSetDefaults(t *testing.T) {
	var c pool.PoolConfig
	c.SetDefaults()
	if c.MaxConnections != 100 || c.MaxConnectionsPerKey != 4 || c.MaxSessionsPerConnection != 8 ||
		c.DialTimeout != 15*time.Second || c.HealthTimeout != 5*time.Second || c.MaxRetries != 3 ||
		c.HistorySize != 60 || c.WaitTimeout != 0 || c.MaxLifetime != 0 {
		t.Errorf("defaults = %+v", c)
	}
	if c.HealthInterval != 30*time.Second || c.CleanupInterval != 5*time.Minute ||
		c.Advanced.CircuitThreshold != 5 || c.Advanced.CircuitCooldown != time.Second ||
		c.Advanced.CircuitBaseCooldown != 200*time.Millisecond || c.Advanced.WarmupBackoffMax != 5*time.Minute ||
		c.Advanced.CircuitAuthCooldown != 5*time.Second {
		t.Errorf("health and cleanup defaults = %+v", c)
	}
	short := pool.PoolConfig{Advanced: pool.AdvancedPoolConfig{CircuitCooldown: 100 * time.Millisecond}}
	short.SetDefaults()
	if short.Advanced.CircuitBaseCooldown != 100*time.Millisecond {
		t.Errorf("base under a 100ms cap = %v, want the cap", short.Advanced.CircuitBaseCooldown)
	}
	if err := pool.ValidatePoolConfig(pool.PoolConfig{}); err != nil {
		t.Errorf("zero config invalid: %v", err)
	}
	off := pool.PoolConfig{HealthInterval: -1, CleanupInterval: -1,
		Advanced: pool.AdvancedPoolConfig{CircuitThreshold: -1, CircuitBaseCooldown: -1, CircuitCooldown: -1, CircuitAuthCooldown: -1}}
	if err := pool.ValidatePoolConfig(off); err != nil {
		t.Errorf("negative intervals and threshold (disabled) invalid: %v", err)
	}
}

func TestValidatePoolConfigNamesFieldsAndRanges(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*pool.PoolConfig)
		want []string
	}{
		{"negative max", func(c *pool.PoolConfig) { c.MaxConnections = -1 }, []string{"MaxConnections = -1, want 1..1048576"}},
		{"per key over max", func(c *pool.PoolConfig) { c.MaxConnections, c.MaxConnectionsPerKey = 2, 3 }, []string{"MaxConnectionsPerKey = 3, want 1..MaxConnections (2)"}},
		{"sessions", func(c *pool.PoolConfig) { c.MaxSessionsPerConnection = 5000 }, []string{"MaxSessionsPerConnection"}},
		{"warmup", func(c *pool.PoolConfig) { c.WarmupConnections = 9 }, []string{"WarmupConnections = 9"}},
		{"warmup total", func(c *pool.PoolConfig) {
			c.MaxConnections, c.WarmupConnections, c.WarmupKeys = 2, 2, []string{"a", "b"}
		}, []string{"WarmupKeys×WarmupConnections = 4"}},
		{"warmup key", func(c *pool.PoolConfig) { c.WarmupKeys = []string{""} }, []string{"WarmupKeys[0] is empty"}},
		{"retries", func(c *pool.PoolConfig) { c.MaxRetries = 1000 }, []string{"MaxRetries = 1000"}},
		{"history", func(c *pool.PoolConfig) { c.HistorySize = -5 }, []string{"HistorySize = -5"}},
		{"parallelism", func(c *pool.PoolConfig) { c.Advanced.WarmupParallelism = -1 }, []string{"Advanced.WarmupParallelism"}},
		{"balancing", func(c *pool.PoolConfig) { c.LoadBalancing = "random" }, []string{`LoadBalancing = "random"`}},
		{"durations", func(c *pool.PoolConfig) { c.WaitTimeout, c.DialTimeout = -1, -2 }, []string{"WaitTimeout = -1ns, want >= 0", "DialTimeout = -2ns"}},
		{"jitter", func(c *pool.PoolConfig) { c.MaxLifetime, c.LifetimeJitter = time.Minute, time.Hour }, []string{"LifetimeJitter = 1h0m0s, want 0..MaxLifetime (1m0s)"}},
		{"health timeout", func(c *pool.PoolConfig) { c.HealthInterval, c.HealthTimeout = time.Second, time.Minute }, []string{"HealthTimeout = 1m0s"}},
		{"default health timeout", func(c *pool.PoolConfig) { c.HealthTimeout = time.Minute }, []string{"HealthTimeout = 1m0s, want 1ns..HealthInterval (30s)"}},
		{"circuit", func(c *pool.PoolConfig) { c.Advanced.CircuitThreshold, c.Advanced.CircuitCooldown = 1000, -1 },
			[]string{"Advanced.CircuitThreshold = 1000", "Advanced.CircuitCooldown = -1ns"}},
		{"circuit base over cap", func(c *pool.PoolConfig) {
			c.Advanced.CircuitBaseCooldown, c.Advanced.CircuitCooldown = time.Minute, time.Second
		},
			[]string{"Advanced.CircuitBaseCooldown = 1m0s, want 1ns..CircuitCooldown (1s)"}},
		{"circuit base negative", func(c *pool.PoolConfig) { c.Advanced.CircuitBaseCooldown = -1 },
			[]string{"Advanced.CircuitBaseCooldown = -1ns"}},
		{"warm-up backoff negative", func(c *pool.PoolConfig) { c.Advanced.WarmupBackoffMax = -1 },
			[]string{"Advanced.WarmupBackoffMax = -1ns, want >= 0"}},
		{"warm-up backoff in nanoseconds", func(c *pool.PoolConfig) { c.Advanced.WarmupBackoffMax = 300 },
			[]string{"Advanced.WarmupBackoffMax = 300ns, want 0 or at least 1ms"}},
		{"auth cooldown in nanoseconds", func(c *pool.PoolConfig) { c.Advanced.CircuitAuthCooldown = 5 },
			[]string{"Advanced.CircuitAuthCooldown = 5ns, want 0 or at least 1ms"}},
		// Nanosecond values that were meant as seconds (found by
		// FuzzUpdateConfig: MaxLifetime 21ns made every Get dial ~280,000
		// times a second until its context ended).
		{"lifetime in nanoseconds", func(c *pool.PoolConfig) { c.MaxLifetime = 30 },
			[]string{"MaxLifetime = 30ns, want 0 or at least 1s (a time.Duration counts nanoseconds: write 30*time.Second, not 30)"}},
		{"loops and probes in nanoseconds", func(c *pool.PoolConfig) {
			c.HealthInterval, c.HealthTimeout, c.CleanupInterval, c.DialTimeout, c.MaxIdleTime, c.LeakThreshold = 30, 5, 60, 15, 300, 600
		}, []string{"HealthInterval = 30ns, want 0 or at least 1ms", "HealthTimeout = 5ns", "CleanupInterval = 60ns",
			"DialTimeout = 15ns", "MaxIdleTime = 300ns", "LeakThreshold = 600ns"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c pool.PoolConfig
			tc.mod(&c)
			err := pool.ValidatePoolConfig(c)
			if err == nil {
				t.Fatal("valid")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), "pool: config: "+w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	var c pool.PoolConfig
	c.MaxConnections, c.MaxSessionsPerConnection = -1, -1
	if err := pool.ValidatePoolConfig(c); strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("want 2 joined errors, got %q", err) // no checks relative to the invalid MaxConnections
	}
}

func TestPresetsAreValid(t *testing.T) {
	for name, c := range map[string]pool.PoolConfig{
		"development": pool.DevelopmentConfig(), "production": pool.ProductionConfig(),
		"high-throughput": pool.HighThroughputConfig(), "low-memory": pool.LowMemoryConfig(),
	} {
		if err := pool.ValidatePoolConfig(c); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if pool.LowMemoryConfig().MaxConnectionsPerKey != 1 || pool.HighThroughputConfig().LoadBalancing != pool.PowerOfTwo {
		t.Error("presets lack their character")
	}
}

func TestApplyTuning(t *testing.T) {
	var c pool.PoolConfig
	c.WarmupConnections = 10
	c.ApplyTuning(pool.Workload{Keys: 50, ConcurrencyPerKey: 20, CommandDuration: 2 * time.Second})
	if c.MaxConnectionsPerKey != 3 || c.MaxConnections != 150 || c.WaitTimeout != 8*time.Second || c.WarmupConnections != 3 {
		t.Errorf("tuned = per key %d, max %d, wait %v, warm %d", c.MaxConnectionsPerKey, c.MaxConnections, c.WaitTimeout, c.WarmupConnections)
	}
	if err := pool.ValidatePoolConfig(c); err != nil {
		t.Error(err)
	}
	c = pool.PoolConfig{}
	c.ApplyTuning(pool.Workload{ConcurrencyPerKey: 1000, CommandDuration: time.Millisecond})
	if c.MaxConnectionsPerKey != 16 || c.WaitTimeout != time.Second {
		t.Errorf("clamps: per key %d wait %v", c.MaxConnectionsPerKey, c.WaitTimeout)
	}
	c = pool.PoolConfig{MaxConnections: 2}
	c.ApplyTuning(pool.Workload{})
	if c.MaxConnectionsPerKey != 2 {
		t.Errorf("per key %d not clamped to MaxConnections", c.MaxConnectionsPerKey)
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	c := pool.ProductionConfig()
	c.WarmupKeys = []string{"web1"}
	c.LoadBalancing = pool.RoundRobin
	c.Advanced.CircuitThreshold, c.Advanced.CircuitCooldown, c.Advanced.DebugLeaks = 2, time.Minute, true
	c.Advanced.CircuitBaseCooldown = 2 * time.Second
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"max_lifetime":"1h0m0s"`, `"load_balancing":"round-robin"`, `"wait_timeout":"30s"`,
		`"circuit_threshold":2`, `"circuit_base_cooldown":"2s"`, `"circuit_cooldown":"1m0s"`, `"debug_leaks":true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back pool.PoolConfig
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Errorf("round trip:\n%s\n%s", b, b2)
	}
	for _, bad := range []string{`{"dial_timeout":"soon"}`, `{"load_balancing":"random"}`, `[`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestInvalidConfigPoolReportsError(t *testing.T) {
	p := pool.NewPool(newFactory(), pool.PoolConfig{MaxConnections: -1}, nil)
	defer p.Close()
	if _, err := p.Get(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), "pool: invalid config") {
		t.Fatalf("Get = %v", err)
	}
	if err := p.Start(context.Background()); err == nil {
		t.Error("Start succeeded")
	}
	if err := p.UpdateConfig(testConfig()); err != nil {
		t.Fatal(err)
	}
	c := mustGet(t, p, "a")
	mustRelease(t, p, "a", c)
}

// TestNewRefusesInvalidConfig: New returns no pool and an error naming
// every bad field (with the *FieldError for the first), where NewPool
// (TestInvalidConfigPoolReportsError) returns a pool that refuses to work.
func TestNewRefusesInvalidConfig(t *testing.T) {
	p, err := pool.New(newFactory(), pool.PoolConfig{MaxConnections: -1, HealthTimeout: -time.Second}, nil)
	if p != nil {
		p.Close()
		t.Fatal("New returned a pool for an invalid config")
	}
	if err == nil || !strings.HasPrefix(err.Error(), "pool: invalid config: ") {
		t.Fatalf("err = %v, want the validation error", err)
	}
	for _, field := range []string{"MaxConnections = -1", "HealthTimeout = -1s"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("err = %q, does not name %s", err, field)
		}
	}
	var fe *pool.FieldError
	if !errors.As(err, &fe) || fe.Field != "MaxConnections" {
		t.Errorf("errors.As(*FieldError) = %+v, want MaxConnections", fe)
	}
}

// TestNewAppliesDefaultsAndKeepsMonitor: a valid (zero) config gives a
// working pool with defaults, and Advanced.HealthMonitor is the pool's
// monitor, kept across UpdateConfig.
func TestNewAppliesDefaultsAndKeepsMonitor(t *testing.T) {
	mon := &countingMonitor{}
	cfg := testConfig()
	cfg.Advanced.HealthMonitor = mon
	p, err := pool.New(newFactory(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.Config().HealthInterval; got != pool.DefaultHealthInterval {
		t.Errorf("HealthInterval = %v, want the default %v", got, pool.DefaultHealthInterval)
	}
	mustRelease(t, p, "a", mustGet(t, p, "a"))
	if err := p.UpdateConfig(testConfig()); err != nil { // no monitor in it
		t.Fatal(err)
	}
	if rep := p.HealthCheck(context.Background()); rep.Checked != 1 || mon.n.Load() != 1 {
		t.Errorf("HealthCheck checked %d, monitor probed %d; want 1 and 1", rep.Checked, mon.n.Load())
	}
}

func TestNilFactoryPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	pool.NewPool(nil, pool.PoolConfig{}, nil)
}

func TestUpdateConfigAppliesAndRejects(t *testing.T) {
	f := newFactory()
	cfg := testConfig()
	cfg.MaxConnections, cfg.MaxConnectionsPerKey = 6, 3
	p := newTestPool(t, f, cfg, nil)
	var held []pool.SSHClient
	for range 6 { // 3 connections of 2 sessions on "a"
		held = append(held, mustGet(t, p, "a"))
	}
	for _, c := range held[:4] { // two connections idle, one busy
		mustRelease(t, p, "a", c)
	}
	bad := cfg
	bad.MaxConnections = -3
	if err := p.UpdateConfig(bad); err == nil || !strings.Contains(err.Error(), "MaxConnections") {
		t.Fatalf("bad UpdateConfig = %v", err)
	}
	if p.Config().MaxConnections != 6 {
		t.Fatal("bad config replaced the good one")
	}
	next := cfg
	next.MaxConnectionsPerKey, next.MaxSessionsPerConnection = 1, 1
	plan := pool.PlanConfigChange(p.Config(), next, p.Entries())
	if plan.CloseIdle != 2 || !plan.SessionsResized || plan.OverSessionLimit != 1 || len(plan.Changes) != 2 {
		t.Errorf("plan = %+v", plan)
	}
	if err := p.UpdateConfig(next); err != nil {
		t.Fatal(err)
	}
	if s := p.GetSnapshot(); s.Total != 1 || s.ClosedByReason[pool.ReasonLimit] != 2 {
		t.Errorf("after update total=%d closed-limit=%d", s.Total, s.ClosedByReason[pool.ReasonLimit])
	}
	for _, c := range held[4:] {
		mustRelease(t, p, "a", c)
	}
	c := mustGet(t, p, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx, "a"); !errors.Is(err, pool.ErrPoolExhausted) {
		t.Errorf("second lease on a 1-session connection: %v", err)
	}
	mustRelease(t, p, "a", c)
}

func TestUpdateConfigPoolWideLimitAndWaiters(t *testing.T) {
	clk := newClock()
	cfg := evictConfig(clk)
	p := newTestPool(t, newFactory(), cfg, nil)
	fillIdle(t, p, clk, "a", "b", "c")
	next := cfg
	next.MaxConnections = 1
	if plan := pool.PlanConfigChange(p.Config(), next, p.Entries()); plan.CloseIdle != 2 {
		t.Errorf("plan = %+v", plan)
	}
	if err := p.UpdateConfig(next); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(p); !equal(got, []string{"c"}) {
		t.Errorf("kept %v, want the most recently used", got)
	}
}

func TestPlanConfigChange(t *testing.T) {
	old := pool.PoolConfig{MaxConnections: 10, MaxConnectionsPerKey: 4}
	next := pool.PoolConfig{MaxConnections: 3, MaxConnectionsPerKey: 2, MaxLifetime: time.Hour, LoadBalancing: pool.RoundRobin}
	entries := []pool.EntryInfo{
		{Key: "a", State: pool.StateIdle}, {Key: "a", State: pool.StateActive, Leases: 2},
		{Key: "a", State: pool.StateActive, Leases: 2}, {Key: "a", State: pool.StateActive, Leases: 1},
		{Key: "b", State: pool.StateIdle}, {Key: "b", State: pool.StateIdle},
		{Key: "b", State: pool.StateClosed}, // gone: not counted
	}
	imp := pool.PlanConfigChange(old, next, entries)
	// a: over by 2, 1 idle closed, 1 busy over; total 5 > 3: 2 more idle (b) closed.
	if imp.CloseIdle != 3 || imp.OverLimitBusy != 1 || len(imp.Notes) != 2 || imp.SessionsResized {
		t.Errorf("impact = %+v", imp)
	}
	if imp.Changes[0].Field != "load_balancing" {
		t.Errorf("changes = %+v", imp.Changes)
	}
	// The configuration alone: the same changes and notes, no connections.
	alone := pool.PlanConfigChange(old, next, nil)
	if alone.CloseIdle != 0 || alone.OverLimitBusy != 0 || !reflect.DeepEqual(alone.Changes, imp.Changes) ||
		!reflect.DeepEqual(alone.Notes, imp.Notes) {
		t.Errorf("plan without entries = %+v", alone)
	}
}

// TestPlanConfigChangeSessions: a lowered session limit counts the
// connections holding more leases than it, each by its own leases.
func TestPlanConfigChangeSessions(t *testing.T) {
	old := pool.PoolConfig{MaxSessionsPerConnection: 8}
	next := pool.PoolConfig{MaxSessionsPerConnection: 2}
	entries := []pool.EntryInfo{{Key: "a", State: pool.StateActive, Leases: 5},
		{Key: "a", State: pool.StateActive, Leases: 2}, {Key: "b", State: pool.StateActive, Leases: 3}}
	imp := pool.PlanConfigChange(old, next, entries)
	if !imp.SessionsResized || imp.OverSessionLimit != 2 || imp.CloseIdle != 0 {
		t.Errorf("impact = %+v", imp)
	}
	want := []pool.FieldChange{{Field: "max_sessions_per_connection", Old: "8", New: "2"}}
	if !reflect.DeepEqual(imp.Changes, want) {
		t.Errorf("changes = %+v, want %+v", imp.Changes, want)
	}
}

// TestPlanConfigChangeOmittedFields: a field the old config omits from its
// JSON form (a zero omitempty field) is still a change when next sets it;
// it was missed when only the old config's fields were compared.
func TestPlanConfigChangeOmittedFields(t *testing.T) {
	old := pool.PoolConfig{}
	next := pool.PoolConfig{Advanced: pool.AdvancedPoolConfig{DebugLeaks: true}}
	imp := pool.PlanConfigChange(old, next, nil)
	want := []pool.FieldChange{{Field: "debug_leaks", New: "true"}}
	if !reflect.DeepEqual(imp.Changes, want) {
		t.Errorf("changes = %+v, want %+v", imp.Changes, want)
	}
	back := pool.PlanConfigChange(next, old, nil)
	if want := []pool.FieldChange{{Field: "debug_leaks", Old: "true"}}; !reflect.DeepEqual(back.Changes, want) {
		t.Errorf("changes back = %+v, want %+v", back.Changes, want)
	}
}

func TestHistoryRing(t *testing.T) {
	cfg := testConfig()
	cfg.HistorySize = 3
	p := newTestPool(t, newFactory(), cfg, nil)
	for i := range 5 {
		c := mustGet(t, p, "a")
		mustRelease(t, p, "a", c)
		if s := pool.RecordSnapshot(p); s.Gets != int64(i+1) {
			t.Fatalf("snapshot gets = %d", s.Gets)
		}
	}
	h := p.History()
	if len(h) != 3 || h[0].Gets != 3 || h[2].Gets != 5 {
		t.Fatalf("history = %d entries, first %d", len(h), h[0].Gets)
	}
	cfg.HistorySize = 2
	if err := p.UpdateConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if h := p.History(); len(h) != 2 || h[1].Gets != 5 {
		t.Errorf("resized history = %+v", h)
	}
	cfg.HistorySize = 4
	_ = p.UpdateConfig(cfg)
	pool.RecordSnapshot(p)
	if h := p.History(); len(h) != 3 || h[2].Gets != 5 {
		t.Errorf("grown history len %d", len(h))
	}
}

func TestLoweredLimitClosesBusyConnectionOnceIdle(t *testing.T) {
	f := newFactory()
	cfg := testConfig()
	cfg.MaxSessionsPerConnection = 1
	p := newTestPool(t, f, cfg, nil)
	a, b := mustGet(t, p, "a"), mustGet(t, p, "a") // two busy connections
	next := cfg
	next.MaxConnectionsPerKey = 1
	if err := p.UpdateConfig(next); err != nil {
		t.Fatal(err)
	}
	if s := p.GetSnapshot(); s.Total != 2 {
		t.Fatalf("busy connections closed: total %d", s.Total)
	}
	mustRelease(t, p, "a", a)
	if s := p.GetSnapshot(); s.Total != 1 || s.ClosedByReason[pool.ReasonLimit] != 1 {
		t.Errorf("after release total=%d closed-limit=%d, want 1, 1", s.Total, s.ClosedByReason[pool.ReasonLimit])
	}
	mustRelease(t, p, "a", b)
	if s := p.GetSnapshot(); s.Total != 1 {
		t.Errorf("total = %d, want 1 (within the limit now)", s.Total)
	}
}

// TestValidatePoolConfigNamed: every problem is a *pool.FieldError with the
// Go field, and the namer renames the field and the fields its range
// refers to, so a config file's loader can speak its own keys.
func TestValidatePoolConfigNamed(t *testing.T) {
	var c pool.PoolConfig
	c.MaxConnections, c.MaxConnectionsPerKey, c.WaitTimeout = 2, 3, -time.Second
	name := func(f string) string { return "file." + strings.ToLower(f) }
	err := pool.ValidatePoolConfigNamed(c, name)
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *pool.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is %T, want *pool.FieldError", e, e)
		}
		fields = append(fields, fe.Field)
	}
	if strings.Join(fields, ",") != "MaxConnectionsPerKey,WaitTimeout" {
		t.Errorf("fields = %v", fields)
	}
	want := "pool: config: file.maxconnectionsperkey = 3, want 1..file.maxconnections (2)\n" +
		"pool: config: file.waittimeout = -1s, want >= 0 (0 = default or disabled)"
	if err.Error() != want {
		t.Errorf("error =\n%s\nwant\n%s", err, want)
	}
	if strings.Contains(err.Error(), "MaxConnections") {
		t.Errorf("a Go name survived the namer: %v", err)
	}
}
