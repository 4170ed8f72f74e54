package pool_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

func TestHealthCheckMarksFailures(t *testing.T) {
	f := newFactory()
	rec := &recTracer{}
	p := newTestPool(t, f, testConfig(), rec.hooks())
	a, b := mustGet(t, p, "a"), mustGet(t, p, "b")
	mustRelease(t, p, "a", a)
	mustRelease(t, p, "b", b)
	dead := errors.New("no reply")
	f.client(1).keepErr.Store(&dead)
	rep := p.HealthCheck(context.Background())
	if rep.Checked != 2 || rep.Healthy != 1 || rep.Unhealthy != 1 || rep.Unhealthy == 0 || len(rep.Failures) != 1 || rep.Failures[0].Key != "b" {
		t.Fatalf("report = %+v", rep)
	}
	if !f.client(1).closed.Load() || f.client(0).closed.Load() {
		t.Error("want b closed, a open")
	}
	s := p.GetSnapshot()
	if s.HealthChecks != 2 || s.HealthFailures != 1 {
		t.Errorf("health checks=%d failures=%d", s.HealthChecks, s.HealthFailures)
	}
	if !rec.has("health-end b err=no reply") {
		t.Errorf("trace: %v", rec.events)
	}
	for _, e := range p.Entries() {
		if e.Key == "a" && e.LastHealthCheck.IsZero() {
			t.Error("LastHealthCheck not recorded")
		}
	}
}

type countingMonitor struct{ n atomic.Int64 }

func (m *countingMonitor) CheckHealth(context.Context, string, pool.SSHClient) error {
	m.n.Add(1)
	return nil
}

func TestConfiguredMonitorIsUsed(t *testing.T) {
	m := &countingMonitor{}
	p := newPoolWithMonitor(newFactory(), testConfig(), m)
	defer p.Close()
	c := mustGet(t, p, "a")
	rep := p.HealthCheck(context.Background())
	mustRelease(t, p, "a", c)
	if rep.Unhealthy != 0 || m.n.Load() != 1 {
		t.Errorf("report %+v, monitor calls %d", rep, m.n.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rep := p.HealthCheck(ctx); rep.Checked != 0 {
		t.Errorf("canceled HealthCheck checked %d", rep.Checked)
	}
}

func TestWarmup(t *testing.T) {
	f := newFactory()
	cfg := testConfig()
	cfg.WarmupKeys, cfg.WarmupConnections = []string{"a", "b"}, 2
	p := newTestPool(t, f, cfg, nil)
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := p.GetSnapshot(); s.Idle != 4 || s.Created != 4 {
		t.Errorf("after warm-up idle=%d created=%d, want 4", s.Idle, s.Created)
	}
	if err := p.Warmup(context.Background()); err != nil || f.dials.Load() != 4 {
		t.Errorf("second Warmup = %v, dials %d (want no new dials)", err, f.dials.Load())
	}
}

func TestWarmupFailuresAreReportedNotFatal(t *testing.T) {
	f := newFactory()
	f.setErr(&kindErr{failure.Refused})
	cfg := testConfig()
	cfg.WarmupKeys, cfg.WarmupConnections = []string{"a", "b"}, 1
	p := newTestPool(t, f, cfg, nil)
	err := p.Warmup(context.Background())
	var de *pool.DialError
	if !errors.As(err, &de) || strings.Count(err.Error(), "pool: dial") != 2 {
		t.Fatalf("Warmup = %v, want two joined dial errors", err)
	}
	if s := p.GetSnapshot(); s.WarmupFailures != 2 {
		t.Errorf("warmup failures = %d", s.WarmupFailures)
	}
	f.setErr(nil)
	if _, err := p.Run(context.Background(), "a", "ok"); err != nil {
		t.Errorf("pool unusable after failed warm-up: %v", err)
	}
}

func TestWarmupStopsAtPoolLimit(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections = 3
	cfg.WarmupKeys, cfg.WarmupConnections = []string{"a", "b"}, 1
	p := newTestPool(t, newFactory(), cfg, nil)
	held := []pool.SSHClient{mustGet(t, p, "x"), mustGet(t, p, "y"), mustGet(t, p, "z")}
	err := p.Warmup(context.Background())
	if !errors.Is(err, pool.ErrPoolExhausted) {
		t.Errorf("Warmup = %v, want ErrPoolExhausted", err)
	}
	for i, k := range []string{"x", "y", "z"} {
		mustRelease(t, p, k, held[i])
	}
}

func TestCircuitGuardSeam(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, testConfig(), nil)
	open := errors.New("pool: circuit open for test")
	pool.SetGuardError(p, open)
	if _, err := p.Get(context.Background(), "a"); !errors.Is(err, open) {
		t.Fatalf("Get = %v, want the guard's error", err)
	}
	if f.dials.Load() != 0 {
		t.Error("dialled through an open circuit")
	}
	recorded := pool.SetGuardError(p, nil)
	c := mustGet(t, p, "b")
	mustRelease(t, p, "b", c)
	if recorded() != 1 {
		t.Errorf("guard saw %d dials, want 1", recorded())
	}
}

func TestCloseIdleSeam(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, testConfig(), nil)
	c := mustGet(t, p, "a")
	id := pool.ConnID(c)
	if pool.CloseIdle(p, id, pool.ReasonIdle) {
		t.Fatal("closed a busy connection")
	}
	mustRelease(t, p, "a", c)
	if !pool.CloseIdle(p, id, pool.ReasonIdle) || !f.client(0).closed.Load() {
		t.Fatal("idle connection not closed")
	}
	if s := p.GetSnapshot(); s.ClosedByReason[pool.ReasonIdle] != 1 || s.Total != 0 || s.Keys != 0 {
		t.Errorf("closed idle=%d total=%d keys=%d", s.ClosedByReason[pool.ReasonIdle], s.Total, s.Keys)
	}
}
