package pool_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/pool"
)

func cleanupConfig() pool.PoolConfig {
	cfg := testConfig()
	cfg.HealthInterval, cfg.CleanupInterval = -1, 5*time.Minute
	return cfg
}

// TestCleanupClosesIdleConnections: a connection idle past MaxIdleTime is
// closed by the loop, which re-arms at the expiry (one minute), not at
// CleanupInterval (five); a busy one is kept.
func TestCleanupClosesIdleConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		cfg := cleanupConfig()
		cfg.MaxIdleTime = time.Minute
		rec := &recTracer{}
		p := newTestPool(t, f, cfg, rec.hooks())
		busy := mustGet(t, p, "busy")
		mustRelease(t, p, "idle", mustGet(t, p, "idle"))
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(61 * time.Second)
		synctest.Wait()
		s := p.GetSnapshot()
		if s.ClosedByReason[pool.ReasonIdle] != 1 || s.Active != 1 || s.Idle != 0 {
			t.Fatalf("closed idle=%d active=%d idle=%d", s.ClosedByReason[pool.ReasonIdle], s.Active, s.Idle)
		}
		if !rec.has("close idle idle") || !rec.has("state idle idle->draining idle") {
			t.Errorf("trace: %v", rec.events)
		}
		mustRelease(t, p, "busy", busy)
	})
}

// TestCleanupRetiresExpiredConnections: past MaxLifetime an idle
// connection is closed, a leased one is retired and closes at release.
func TestCleanupRetiresExpiredConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		cfg := cleanupConfig()
		cfg.MaxLifetime = 10 * time.Minute
		p := newTestPool(t, f, cfg, nil)
		busy := mustGet(t, p, "busy")
		mustRelease(t, p, "idle", mustGet(t, p, "idle"))
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		s := p.GetSnapshot()
		if s.ClosedByReason[pool.ReasonLifetime] != 1 || s.Draining != 1 {
			t.Fatalf("closed lifetime=%d draining=%d, want 1, 1", s.ClosedByReason[pool.ReasonLifetime], s.Draining)
		}
		if f.client(0).closed.Load() {
			t.Fatal("leased connection closed")
		}
		mustRelease(t, p, "busy", busy)
		if !f.client(0).closed.Load() || p.GetSnapshot().ClosedByReason[pool.ReasonLifetime] != 2 {
			t.Error("retired connection not closed at release")
		}
	})
}

// TestCleanupEnforcesLoweredLimits: enforceConnectionLimits closes idle
// connections over a lowered per-key limit once they go idle.
func TestCleanupEnforcesLoweredLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		cfg := cleanupConfig()
		cfg.MaxSessionsPerConnection = 1
		p := newTestPool(t, f, cfg, nil)
		a, b := mustGet(t, p, "a"), mustGet(t, p, "a")
		cfg.MaxConnectionsPerKey = 1
		if err := p.UpdateConfig(cfg); err != nil {
			t.Fatal(err)
		}
		mustRelease(t, p, "a", a)
		mustRelease(t, p, "a", b)
		start, stop := pool.CleanupLoop(p)
		start(context.Background())
		start(context.Background()) // no-op
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		stop()
		stop()
		if s := p.GetSnapshot(); s.Total != 1 || s.ClosedByReason[pool.ReasonLimit] != 1 {
			t.Errorf("total=%d closed limit=%d", s.Total, s.ClosedByReason[pool.ReasonLimit])
		}
	})
}

// TestLeakReportedOnceThenReleased: a lease held past LeakThreshold is
// reported once (counter, event with the Get's stack in debug mode) and
// again when it is finally released.
func TestLeakReportedOnceThenReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cleanupConfig()
		cfg.LeakThreshold = 2 * time.Minute
		cfg.Advanced.DebugLeaks = true
		p := newTestPool(t, newFactory(), cfg, nil)
		events, cancel := p.SubscribeHealth(8)
		defer cancel()
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		leaked := mustGet(t, p, "a")
		time.Sleep(time.Minute)
		mustRelease(t, p, "a", mustGet(t, p, "a")) // short lease: never reported
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if s := p.GetSnapshot(); s.Leaks != 1 {
			t.Fatalf("leaks = %d, want 1 (checked within the threshold, not the 5 min interval)", s.Leaks)
		}
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		mustRelease(t, p, "a", leaked)
		evs := drainEvents(events)
		if eventTypes(evs) != "leak,leak-released" || p.GetSnapshot().Leaks != 1 {
			t.Fatalf("events = %s, leaks = %d", eventTypes(evs), p.GetSnapshot().Leaks)
		}
		if ev := evs[0]; ev.Held < 2*time.Minute || !strings.Contains(ev.Stack, "TestLeakReportedOnceThenReleased") {
			t.Errorf("leak event held %v, stack:\n%s", ev.Held, ev.Stack)
		}
	})
}

// TestCloseStopsLoopsAndDrains: Close stops the loops and the watchers
// and waits for them (goleak checks at exit), CloseContext lets a lease
// finish first.
func TestCloseStopsLoopsAndDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		cfg := testConfig()
		cfg.HealthInterval, cfg.CleanupInterval = time.Minute, time.Minute
		p := pool.NewPool(f, cfg, nil)
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		_ = p.Start(context.Background()) // loops start once
		c := mustGet(t, p, "a")
		go func() {
			time.Sleep(time.Second)
			_ = p.Release("a", c)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := p.CloseContext(ctx); err != nil {
			t.Fatalf("CloseContext = %v", err)
		}
		if f.open.Load() != 0 {
			t.Error("connection left open")
		}
		if err := p.Start(context.Background()); err != pool.ErrPoolClosed {
			t.Errorf("Start after Close = %v", err)
		}
	})
}

// TestDropIdle closes only a key's idle connections.
func TestDropIdle(t *testing.T) {
	f := newFactory()
	cfg := testConfig()
	cfg.MaxSessionsPerConnection = 1
	p := newTestPool(t, f, cfg, nil)
	a, b := mustGet(t, p, "a"), mustGet(t, p, "a")
	mustRelease(t, p, "a", a)
	if n := p.DropIdle("a"); n != 1 {
		t.Errorf("DropIdle = %d, want 1", n)
	}
	if n := p.DropIdle("none"); n != 0 {
		t.Errorf("DropIdle(none) = %d", n)
	}
	mustRelease(t, p, "a", b)
	if s := p.GetSnapshot(); s.Idle != 1 || s.ClosedByReason[pool.ReasonIdle] != 1 {
		t.Errorf("idle=%d closed idle=%d", s.Idle, s.ClosedByReason[pool.ReasonIdle])
	}
}
