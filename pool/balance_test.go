package pool_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// twoConns returns a pool whose key "a" has two connections (ids in
// order), both idle.
func twoConns(t *testing.T, mode pool.LoadBalancing) (pool.Pool, [2]uint64) {
	t.Helper()
	cfg := testConfig()
	cfg.MaxSessionsPerConnection, cfg.LoadBalancing = 2, mode
	p := newTestPool(t, newFactory(), cfg, nil)
	var held []pool.SSHClient
	for range 3 {
		held = append(held, mustGet(t, p, "a"))
	}
	ids := [2]uint64{pool.ConnID(held[0]), pool.ConnID(held[2])}
	for _, c := range held {
		mustRelease(t, p, "a", c)
	}
	return p, ids
}

func TestLeastLoadedPicksEmptierConnection(t *testing.T) {
	p, ids := twoConns(t, pool.LeastLoaded)
	c1 := mustGet(t, p, "a")
	c2 := mustGet(t, p, "a")
	if pool.ConnID(c1) == pool.ConnID(c2) {
		t.Errorf("both leases on conn %d, want one on each (%v)", pool.ConnID(c1), ids)
	}
	mustRelease(t, p, "a", c1)
	mustRelease(t, p, "a", c2)
}

func TestRoundRobinAlternates(t *testing.T) {
	p, _ := twoConns(t, pool.RoundRobin)
	seen := map[uint64]int{}
	for range 10 {
		c := mustGet(t, p, "a")
		seen[pool.ConnID(c)]++
		mustRelease(t, p, "a", c)
	}
	for id, n := range seen {
		if n != 5 {
			t.Errorf("conn %d got %d of 10 leases, want 5 (%v)", id, n, seen)
		}
	}
}

func TestPowerOfTwoNeverOverfills(t *testing.T) {
	p, _ := twoConns(t, pool.PowerOfTwo)
	var held []pool.SSHClient
	per := map[uint64]int{}
	for range 4 {
		c := mustGet(t, p, "a")
		held = append(held, c)
		per[pool.ConnID(c)]++
	}
	if len(per) != 2 || per[pool.ConnID(held[0])] != 2 {
		t.Errorf("leases per conn = %v, want 2 and 2", per)
	}
	for _, c := range held {
		mustRelease(t, p, "a", c)
	}
	if s := p.GetSnapshot(); s.Total != 2 {
		t.Errorf("total = %d, want 2 (no dial while slots were free)", s.Total)
	}
}

func TestAffinityKeepsCallerOnOneConnection(t *testing.T) {
	p, _ := twoConns(t, pool.RoundRobin)
	for _, hint := range []string{"job-1", "job-2", "job-3"} {
		ctx := pool.WithAffinity(context.Background(), hint)
		var first uint64
		for i := range 6 {
			c, err := p.Get(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = pool.ConnID(c)
			} else if id := pool.ConnID(c); id != first {
				t.Errorf("hint %s: lease %d on conn %d, want %d", hint, i, id, first)
			}
			mustRelease(t, p, "a", c)
		}
	}
}

func TestAffinityFallsBackWhenFull(t *testing.T) {
	p, _ := twoConns(t, pool.LeastLoaded)
	ctx := pool.WithAffinity(context.Background(), "sticky")
	a := mustGetCtx(t, p, ctx)
	b := mustGetCtx(t, p, ctx)
	c := mustGetCtx(t, p, ctx) // its preferred connection is full now
	if pool.ConnID(a) != pool.ConnID(b) || pool.ConnID(c) == pool.ConnID(a) {
		t.Errorf("conns %d %d %d, want a==b!=c", pool.ConnID(a), pool.ConnID(b), pool.ConnID(c))
	}
	for _, x := range []pool.SSHClient{a, b, c} {
		mustRelease(t, p, "a", x)
	}
}

func mustGetCtx(t *testing.T, p pool.Pool, ctx context.Context) pool.SSHClient {
	t.Helper()
	c, err := p.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLifetimeCheckedAtGet(t *testing.T) {
	clk := newClock()
	f := newFactory()
	cfg := testConfig()
	cfg.MaxLifetime, cfg.LifetimeJitter = time.Hour, time.Minute
	cfg.Advanced.Clock = clk.Now
	rec := &recTracer{}
	p := newTestPool(t, f, cfg, rec.hooks())
	c := mustGet(t, p, "a")
	old := pool.ConnID(c)
	mustRelease(t, p, "a", c)
	clk.Advance(59 * time.Minute) // inside MaxLifetime - jitter
	c = mustGet(t, p, "a")
	if pool.ConnID(c) != old {
		t.Errorf("connection replaced before its lifetime")
	}
	mustRelease(t, p, "a", c)
	clk.Advance(time.Minute + time.Nanosecond)
	c = mustGet(t, p, "a")
	if pool.ConnID(c) == old {
		t.Fatalf("expired connection %d handed out", old)
	}
	mustRelease(t, p, "a", c)
	if !f.client(0).closed.Load() {
		t.Error("expired connection not closed")
	}
	if s := p.GetSnapshot(); s.ClosedByReason[pool.ReasonLifetime] != 1 {
		t.Errorf("closed by lifetime = %d, want 1", s.ClosedByReason[pool.ReasonLifetime])
	}
	if !rec.has("state a idle->draining lifetime") {
		t.Errorf("no state-change trace: %v", rec.events)
	}
}

func TestExpiredBusyConnectionClosesAfterLastLease(t *testing.T) {
	clk := newClock()
	f := newFactory()
	cfg := testConfig()
	cfg.MaxLifetime = time.Hour
	cfg.Advanced.Clock = clk.Now
	p := newTestPool(t, f, cfg, nil)
	busy := mustGet(t, p, "a")
	clk.Advance(2 * time.Hour)
	fresh := mustGet(t, p, "a")
	if pool.ConnID(fresh) == pool.ConnID(busy) {
		t.Fatal("expired connection got a new lease")
	}
	if f.client(0).closed.Load() {
		t.Fatal("expired connection closed while leased")
	}
	if _, err := busy.Run(context.Background(), "ok"); err != nil {
		t.Errorf("in-flight lease broken: %v", err)
	}
	mustRelease(t, p, "a", busy)
	if !f.client(0).closed.Load() {
		t.Error("expired connection not closed after its last lease")
	}
	mustRelease(t, p, "a", fresh)
}

// TestDeadConnectionNeverHandedOut: once a connection's Done is closed, no
// Get returns it, whether the pool learns of the death from the client's
// EndNotifier hook (which runs before Done closes) or by checking Done.
func TestDeadConnectionNeverHandedOut(t *testing.T) {
	for _, how := range []string{"closed", "done", "notified"} {
		t.Run(how, func(t *testing.T) {
			f := newFactory()
			f.notify = how == "notified"
			p := newTestPool(t, f, testConfig(), nil)
			c := mustGet(t, p, "a")
			mustRelease(t, p, "a", c)
			dead := f.client(0)
			dead.lieAlive.Store(how != "closed")
			dead.kill()
			<-dead.Done()
			c = mustGet(t, p, "a")
			if u := pool.Underlying(c); u == pool.SSHClient(dead) || u == pool.SSHClient(endClient{dead}) {
				t.Fatal("dead connection handed out")
			}
			mustRelease(t, p, "a", c)
			// The Get retires the dead connection, or the watcher does and
			// may count it only after the Get has returned.
			waitFor(t, func() bool { return p.GetSnapshot().ClosedByReason[pool.ReasonUnhealthy] != 0 })
			if s := p.GetSnapshot(); s.ClosedByReason[pool.ReasonUnhealthy] != 1 {
				t.Errorf("closed unhealthy = %d", s.ClosedByReason[pool.ReasonUnhealthy])
			}
		})
	}
}

// TestLoadBalancingNames: the modes travel as their names through JSON,
// the empty mode is LeastLoaded after SetDefaults, and an unknown name is
// a FieldError that lists the modes.
func TestLoadBalancingNames(t *testing.T) {
	for _, m := range []pool.LoadBalancing{pool.LeastLoaded, pool.RoundRobin, pool.PowerOfTwo} {
		b, err := json.Marshal(pool.PoolConfig{LoadBalancing: m})
		var back pool.PoolConfig
		if err != nil || !strings.Contains(string(b), `"load_balancing":"`+string(m)+`"`) || json.Unmarshal(b, &back) != nil || back.LoadBalancing != m {
			t.Errorf("%s round trip: %s %v -> %q", m, b, err, back.LoadBalancing)
		}
	}
	var c pool.PoolConfig
	c.SetDefaults()
	if c.LoadBalancing != pool.LeastLoaded {
		t.Errorf("default mode %q, want least-loaded", c.LoadBalancing)
	}
	c.LoadBalancing = "random"
	var fe *pool.FieldError
	if err := pool.ValidatePoolConfig(c); !errors.As(err, &fe) || fe.Field != "LoadBalancing" ||
		err.Error() != `pool: config: LoadBalancing = "random", want least-loaded, round-robin or power-of-two` {
		t.Errorf("ValidatePoolConfig(random) = %v", err)
	}
}
