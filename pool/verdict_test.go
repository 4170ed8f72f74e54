package pool_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

// badKeyFactory fails the dials of its bad keys with a permanent error
// and dials the others through fakeFactory.
type badKeyFactory struct {
	*fakeFactory
	bad map[string]bool
}

func (f badKeyFactory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	if f.bad[key] {
		f.dials.Add(1)
		return nil, &kindErr{failure.Auth}
	}
	return f.fakeFactory.Dial(ctx, key)
}

// verdictPool returns a pool in which each key in good holds an idle
// connection and each key in bad has failed one dial (circuit open).
func verdictPool(t *testing.T, good, bad []string) pool.Pool {
	t.Helper()
	f := badKeyFactory{newFactory(), map[string]bool{}}
	for _, k := range bad {
		f.bad[k] = true
	}
	cfg := testConfig()
	cfg.MaxConnections = 8
	p := newTestPool(t, f, cfg, nil)
	for _, k := range good {
		c, err := p.Get(context.Background(), k)
		if err != nil {
			t.Fatalf("Get(%s) = %v", k, err)
		}
		mustRelease(t, p, k, c)
	}
	for _, k := range bad {
		if _, err := p.Get(context.Background(), k); err == nil {
			t.Fatalf("Get(%s) succeeded", k)
		}
	}
	return p
}

// TestHealthVerdictOneBadKeyDegrades: one host with bad credentials among
// good ones degrades the report but keeps the service ready.
func TestHealthVerdictOneBadKeyDegrades(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := verdictPool(t, []string{"a", "b"}, []string{"bad"})
		rep := p.HealthCheck(context.Background())
		if rep.Status != pool.StatusDegraded || !rep.Ready() {
			t.Fatalf("status %v ready %v, want degraded and ready: %+v", rep.Status, rep.Ready(), rep)
		}
		for _, k := range rep.Keys {
			if !k.Demand {
				t.Errorf("key %s has no demand", k.Key)
			}
			if k.Key == "bad" && (k.Circuit != pool.CircuitOpen || k.Usable != 0 || k.LastErr == "") {
				t.Errorf("bad key %+v, want open circuit, nothing usable", k)
			}
		}
	})
}

// TestHealthVerdictAllBadKeysUnhealthy: when every key in demand is down
// the pool can serve nothing.
func TestHealthVerdictAllBadKeysUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := verdictPool(t, nil, []string{"x", "y"})
		if rep := p.HealthCheck(context.Background()); rep.Status != pool.StatusUnhealthy || rep.Ready() {
			t.Fatalf("status %v, want unhealthy: %+v", rep.Status, rep)
		}
		// Nobody asks for them any more: down keys without demand no
		// longer fail readiness, but still degrade the report.
		time.Sleep(time.Minute)
		rep := p.HealthCheck(context.Background())
		if rep.Status != pool.StatusDegraded || rep.Keys[0].Demand {
			t.Fatalf("after a quiet minute: status %v, want degraded: %+v", rep.Status, rep)
		}
	})
}

// TestHealthVerdictClosedUnhealthy: a closed pool is unhealthy whatever
// its keys looked like.
func TestHealthVerdictClosedUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := verdictPool(t, []string{"a"}, nil)
		if rep := p.HealthCheck(context.Background()); rep.Status != pool.StatusHealthy {
			t.Fatalf("open pool: status %v: %+v", rep.Status, rep)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if rep := p.HealthCheck(context.Background()); rep.Status != pool.StatusUnhealthy || !rep.Closed || rep.Ready() {
			t.Fatalf("closed pool: status %v closed %v, want unhealthy", rep.Status, rep.Closed)
		}
	})
}

// TestHealthVerdictEmptyPoolHealthy: a pool with no keys is healthy.
func TestHealthVerdictEmptyPoolHealthy(t *testing.T) {
	p := newTestPool(t, newFactory(), testConfig(), nil)
	if rep := p.HealthCheck(context.Background()); rep.Status != pool.StatusHealthy || !rep.Ready() {
		t.Fatalf("status %v", rep.Status)
	}
}

// TestHealthVerdictWarmupKeysStayInDemand: a warm-up key is wanted by
// configuration, so when its dials keep failing it stays in demand (and
// fails readiness when it is the only key) after Gets stop asking for it,
// unlike an ad-hoc key (TestHealthVerdictAllBadKeysUnhealthy).
func TestHealthVerdictWarmupKeysStayInDemand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := badKeyFactory{newFactory(), map[string]bool{"w": true}}
		cfg := testConfig()
		cfg.WarmupKeys, cfg.WarmupConnections = []string{"w"}, 1
		p := newTestPool(t, f, cfg, nil)
		if err := p.Warmup(context.Background()); err == nil {
			t.Fatal("Warmup succeeded against a failing key")
		}
		time.Sleep(2 * time.Minute)
		rep := p.HealthCheck(context.Background())
		if len(rep.Keys) != 1 || !rep.Keys[0].Demand || rep.Status != pool.StatusUnhealthy {
			t.Fatalf("after two quiet minutes: status %v, want unhealthy with the warm-up key in demand: %+v", rep.Status, rep)
		}
	})
}

// TestLastHealthProbesNothing: LastHealth gives HealthCheck's verdict from
// the pool's state without probing: no keepalive is sent, and a connection
// the health loop found dead shows as such.
func TestLastHealthProbesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := verdictPool(t, []string{"a"}, []string{"bad"})
		before := p.GetSnapshot().HealthChecks
		rep := p.LastHealth()
		if rep.Status != pool.StatusDegraded || !rep.Ready() || rep.Checked != 0 || len(rep.Keys) != 2 {
			t.Fatalf("LastHealth %+v, want degraded, ready, nothing probed, 2 keys", rep)
		}
		if n := p.GetSnapshot().HealthChecks; n != before {
			t.Fatalf("LastHealth ran %d probes", n-before)
		}
		if got := p.HealthCheck(context.Background()); got.Status != rep.Status {
			t.Fatalf("HealthCheck says %v, LastHealth %v", got.Status, rep.Status)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if rep := p.LastHealth(); rep.Status != pool.StatusUnhealthy || rep.Ready() {
			t.Fatalf("closed pool: %v", rep.Status)
		}
	})
}
