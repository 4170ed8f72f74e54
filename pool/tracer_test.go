package pool_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

func TestTracerSeesGetDialRelease(t *testing.T) {
	rec := &recTracer{}
	p := newTestPool(t, newFactory(), testConfig(), rec)
	c := mustGet(t, p, "a")
	mustRelease(t, p, "a", c)
	c = mustGet(t, p, "a")
	mustRelease(t, p, "a", c)
	want := []string{"get-start a", "dial-start a", "dial-end a kind=unknown err=<nil>",
		"get-end a hit=false err=<nil>", "release a 1", "get-start a", "get-end a hit=true err=<nil>", "release a 1"}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !equal(rec.events, want) {
		t.Errorf("events\n got %q\nwant %q", rec.events, want)
	}
}

func TestTracerSeesFailures(t *testing.T) {
	rec := &recTracer{}
	f := newFactory()
	f.setErr(&kindErr{failure.Auth})
	p := newTestPool(t, f, testConfig(), rec)
	if _, err := p.Get(context.Background(), "a"); err == nil {
		t.Fatal("Get succeeded")
	}
	if !rec.has("dial-end a kind=auth") || !rec.has("get-end a hit=false err=pool: dial") {
		t.Errorf("events %q", rec.events)
	}
}

func TestMultiTracer(t *testing.T) {
	if _, ok := pool.MultiTracer(nil, pool.NoopTracer{}).(pool.NoopTracer); !ok {
		t.Error("MultiTracer of nothing is not NoopTracer")
	}
	one := &recTracer{}
	if pool.MultiTracer(one, nil) != pool.PoolTracer(one) {
		t.Error("MultiTracer of one is not that tracer")
	}
	a, b := &recTracer{}, &recTracer{}
	m := pool.MultiTracer(a, b)
	ctx := context.Background()
	m.TraceGetEnd(m.TraceGetStart(ctx, pool.GetStartData{Key: "k"}), pool.GetEndData{Key: "k"})
	m.TraceDialEnd(m.TraceDialStart(ctx, pool.DialStartData{Key: "k"}), pool.DialEndData{Key: "k"})
	m.TraceHealthCheckEnd(m.TraceHealthCheckStart(ctx, pool.HealthCheckStartData{Key: "k"}), pool.HealthCheckEndData{Key: "k"})
	m.TraceRelease(pool.ReleaseData{Key: "k"})
	m.TraceEvict(pool.EvictData{Key: "k"})
	m.TraceStateChange(pool.StateChangeData{Key: "k"})
	m.TraceConnClose(pool.ConnCloseData{Key: "k"})
	m.TraceMisuse(pool.MisuseData{Key: "k"})
	for _, r := range []*recTracer{a, b} {
		if len(r.events) != 11 {
			t.Errorf("tracer saw %d events, want 11: %q", len(r.events), r.events)
		}
	}
}

func TestNoopTracerHooks(t *testing.T) {
	var n pool.NoopTracer
	ctx := context.Background()
	if n.TraceGetStart(ctx, pool.GetStartData{}) != ctx || n.TraceDialStart(ctx, pool.DialStartData{}) != ctx ||
		n.TraceHealthCheckStart(ctx, pool.HealthCheckStartData{}) != ctx {
		t.Error("start hooks must return ctx")
	}
	n.TraceGetEnd(ctx, pool.GetEndData{})
	n.TraceDialEnd(ctx, pool.DialEndData{})
	n.TraceHealthCheckEnd(ctx, pool.HealthCheckEndData{})
	n.TraceRelease(pool.ReleaseData{})
	n.TraceEvict(pool.EvictData{})
	n.TraceStateChange(pool.StateChangeData{})
	n.TraceConnClose(pool.ConnCloseData{})
	n.TraceMisuse(pool.MisuseData{})
}

func TestNoopTracerAllocatesNothingExtra(t *testing.T) {
	for _, tr := range []pool.PoolTracer{nil, pool.NoopTracer{}} {
		p := newTestPool(t, newFactory(), testConfig(), tr)
		c := mustGet(t, p, "a")
		mustRelease(t, p, "a", c)
		ctx := context.Background()
		allocs := testing.AllocsPerRun(1000, func() {
			c, _ := p.Get(ctx, "a")
			_ = p.Release("a", c)
		})
		if allocs > 1 {
			t.Errorf("tracer %T: %v allocs per Get+Release, want ≤ 1 (the lease)", tr, allocs)
		}
	}
}

func TestSlogTracer(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFactory()
	p := newTestPool(t, f, testConfig(), pool.NewSlogTracer(log))
	c := mustGet(t, p, "a")
	mustRelease(t, p, "a", c)
	_ = p.Release("a", c)
	dead := errors.New("dead")
	f.client(0).keepErr.Store(&dead)
	p.HealthCheck(context.Background())
	f.setErr(&kindErr{failure.Auth})
	_, _ = p.Get(context.Background(), "b")
	// The failed dial traces circuit-open after its waiter got the error:
	// Close waits for the dial goroutine (and stops writes to buf).
	_ = p.Close()
	// Through MultiTracer, which forwards health events to tracers that
	// take them.
	pool.MultiTracer(pool.NewSlogTracer(log), &recTracer{}).(pool.HealthEventTracer).TraceHealthEvent(
		pool.HealthEvent{Type: pool.EventLeak, Key: "c", ConnID: 3, Held: time.Minute, Stack: "main.f"})
	out := buf.String()
	for _, want := range []string{`"msg":"pool dial"`, `"msg":"pool get"`, `"msg":"pool release"`,
		`"msg":"pool misuse"`, `"msg":"pool health check"`, `"msg":"pool connection state"`,
		`"msg":"pool connection closed"`, `"msg":"pool dial failed"`, `"msg":"pool get failed"`, `"component":"sshpool"`,
		`"event":"probe-failed"`, `"event":"circuit-open"`, `"event":"leak"`, `"stack":"`, `"held":`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	tr := pool.NewSlogTracer(nil)
	tr.TraceEvict(pool.EvictData{Key: "k"}) // default logger: must not panic
	if tr.TraceGetStart(context.Background(), pool.GetStartData{}) == nil {
		t.Error("nil ctx")
	}
}

func TestEntryInfoJSON(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Advanced.Clock = clk.Now
	cfg.MaxLifetime = time.Hour
	p := newTestPool(t, newFactory(), cfg, nil)
	c := mustGet(t, p, "deploy@web1:22")
	pool.SetMeta(p, c, "region", "eu")
	es := p.Entries()
	if len(es) != 1 || es[0].State != pool.StateActive || es[0].Leases != 1 || es[0].UseCount != 1 {
		t.Fatalf("entries = %+v", es)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(es[0].String()), &m); err != nil {
		t.Fatal(err)
	}
	if m["state"] != "active" || m["key"] != "deploy@web1:22" || m["remote_addr"] != "127.0.0.1:2001" ||
		m["metadata"].(map[string]any)["region"] != "eu" || m["expires"] == nil {
		t.Errorf("JSON = %s", es[0])
	}
	_ = p.MarkUnhealthy(c, nil)
	if e := p.Entries()[0]; e.State != pool.StateUnhealthy || e.Reason != "unhealthy" {
		t.Errorf("after mark: %+v", e)
	}
	mustRelease(t, p, "deploy@web1:22", c)
}

func TestEnumStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{pool.StateIdle.String(), "idle"}, {pool.StateClosed.String(), "closed"},
		{pool.EntryState(42).String(), "EntryState(42)"},
		{pool.ReasonLifetime.String(), "lifetime"}, {pool.CloseReason(42).String(), "CloseReason(42)"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
	b, _ := pool.ReasonEvicted.MarshalText()
	s, _ := pool.StateDraining.MarshalText()
	if string(b) != "evicted" || string(s) != "draining" {
		t.Error("MarshalText")
	}
}

func TestSnapshotJSON(t *testing.T) {
	p := newTestPool(t, newFactory(), testConfig(), nil)
	_, _ = p.Run(context.Background(), "a", "ok")
	snap := p.GetSnapshot()
	b, err := json.Marshal(snap)
	if err != nil || !strings.Contains(string(b), `"closed_by_reason":{"evicted":0`) {
		t.Errorf("snapshot JSON = %s, %v", b, err)
	}
	if snap.Runs != 1 || snap.Dials != 1 || snap.Idle != 1 || snap.Keys != 1 || snap.MaxConnections != 4 {
		t.Errorf("snapshot = %+v", snap)
	}
}

func TestErrorMessages(t *testing.T) {
	we := &pool.WaitError{Key: "a", Waited: time.Second, Err: context.Canceled}
	if we.Error() != `pool: get "a": gave up after 1s (waiting for dial): context canceled` || failure.Classify(we) != failure.Canceled {
		t.Errorf("WaitError = %q", we)
	}
	de := &pool.DialError{Key: "a", Kind: failure.Refused, Err: errors.New("refused")}
	if de.Error() != `pool: dial "a" (refused): refused` || failure.Classify(&pool.DialError{Err: syscall.ECONNREFUSED}) != failure.Refused {
		t.Errorf("DialError = %q", de)
	}
}
