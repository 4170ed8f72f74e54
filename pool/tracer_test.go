package pool_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
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

// pairTracer keeps the data each Start and End hook of Get, dial and
// health check received.
type pairTracer struct {
	pool.NoopTracer
	mu                       sync.Mutex // guards the slices
	getStarts, getEnds       []pool.GetData
	dialStarts, dialEnds     []pool.DialData
	healthStarts, healthEnds []pool.HealthCheckData
}

func (r *pairTracer) TraceGetStart(ctx context.Context, d pool.GetData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.getStarts = append(r.getStarts, d)
	return ctx
}

func (r *pairTracer) TraceGetEnd(_ context.Context, d pool.GetData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.getEnds = append(r.getEnds, d)
}

func (r *pairTracer) TraceDialStart(ctx context.Context, d pool.DialData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dialStarts = append(r.dialStarts, d)
	return ctx
}

func (r *pairTracer) TraceDialEnd(_ context.Context, d pool.DialData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dialEnds = append(r.dialEnds, d)
}

func (r *pairTracer) TraceHealthCheckStart(ctx context.Context, d pool.HealthCheckData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.healthStarts = append(r.healthStarts, d)
	return ctx
}

func (r *pairTracer) TraceHealthCheckEnd(_ context.Context, d pool.HealthCheckData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.healthEnds = append(r.healthEnds, d)
}

// TestStartAndEndShareTheirData: each Start hook receives only what is
// known when the operation starts, and its End hook the same data with
// the outcome filled in, for a Get that dials, a hit, a failed dial and a
// health check. (The probe passes: a failed one would retire the
// connection and start a replacement dial in the background;
// TestHealthCheckMarksFailures sees a failed probe's error traced.)
func TestStartAndEndShareTheirData(t *testing.T) {
	rec := &pairTracer{}
	f := newFactory()
	p := newTestPool(t, f, testConfig(), rec)
	c := mustGet(t, p, "a")
	id := pool.ConnID(c)
	mustRelease(t, p, "a", c)
	mustRelease(t, p, "a", mustGet(t, p, "a"))
	if rep := p.HealthCheck(context.Background()); rep.Checked != 1 || rep.Healthy != 1 {
		t.Fatalf("health report %+v", rep)
	}
	f.setErr(&kindErr{failure.Auth})
	_, getErr := p.Get(context.Background(), "b")
	if getErr == nil {
		t.Fatal("Get(b) succeeded")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()

	wantGetStarts := []pool.GetData{{Key: "a"}, {Key: "a"}, {Key: "b"}}
	if !slices.Equal(rec.getStarts, wantGetStarts) || len(rec.getEnds) != 3 {
		t.Fatalf("get starts %+v ends %+v", rec.getStarts, rec.getEnds)
	}
	for i, e := range rec.getEnds {
		outcome := e
		outcome.ConnID, outcome.Hit, outcome.Waited, outcome.Duration, outcome.Err = 0, false, 0, 0, nil
		if outcome != rec.getStarts[i] {
			t.Errorf("get end %d %+v does not carry its start %+v", i, e, rec.getStarts[i])
		}
	}
	if e := rec.getEnds[0]; e.ConnID != id || e.Hit || e.Waited <= 0 || e.Duration < e.Waited || e.Err != nil {
		t.Errorf("get that dialled: %+v", e)
	}
	if e := rec.getEnds[1]; e.ConnID != id || !e.Hit || e.Waited != 0 || e.Err != nil {
		t.Errorf("hit: %+v", e)
	}
	if e := rec.getEnds[2]; e.ConnID != 0 || e.Hit || !errors.Is(e.Err, getErr) {
		t.Errorf("failed get: %+v, want %v", e, getErr)
	}

	if !slices.Equal(rec.dialStarts, []pool.DialData{{Key: "a"}, {Key: "b"}}) || len(rec.dialEnds) != 2 {
		t.Fatalf("dial starts %+v ends %+v", rec.dialStarts, rec.dialEnds)
	}
	if e := rec.dialEnds[0]; e.Key != "a" || e.ConnID != id || e.Err != nil || e.Kind != failure.Unknown {
		t.Errorf("dial end %+v", e)
	}
	var de *pool.DialError
	if e := rec.dialEnds[1]; e.Key != "b" || e.ConnID != 0 || !errors.As(e.Err, &de) || e.Kind != failure.Auth {
		t.Errorf("failed dial end %+v", e)
	}

	wantHealth := pool.HealthCheckData{Key: "a", ConnID: id}
	if !slices.Equal(rec.healthStarts, []pool.HealthCheckData{wantHealth}) || len(rec.healthEnds) != 1 {
		t.Fatalf("health starts %+v ends %+v", rec.healthStarts, rec.healthEnds)
	}
	if e := rec.healthEnds[0]; e.Key != "a" || e.ConnID != id || e.Err != nil || e.Duration < 0 {
		t.Errorf("health end %+v, want a, %d, no error", e, id)
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
	m.TraceGetEnd(m.TraceGetStart(ctx, pool.GetData{Key: "k"}), pool.GetData{Key: "k"})
	m.TraceDialEnd(m.TraceDialStart(ctx, pool.DialData{Key: "k"}), pool.DialData{Key: "k"})
	m.TraceHealthCheckEnd(m.TraceHealthCheckStart(ctx, pool.HealthCheckData{Key: "k"}), pool.HealthCheckData{Key: "k"})
	m.TraceRelease(pool.ReleaseData{Key: "k"})
	m.TraceStateChange(pool.StateChangeData{Key: "k"})
	m.TraceConnClose(pool.ConnCloseData{Key: "k", Reason: pool.ReasonEvicted, Strategy: "lru"})
	m.TraceMisuse(pool.MisuseData{Key: "k"})
	for _, r := range []*recTracer{a, b} {
		if len(r.events) != 10 || r.events[8] != "close k evicted strategy=lru" {
			t.Errorf("tracer saw %d events, want 10 with the close's strategy: %q", len(r.events), r.events)
		}
	}
}

func TestNoopTracerHooks(t *testing.T) {
	var n pool.NoopTracer
	ctx := context.Background()
	if n.TraceGetStart(ctx, pool.GetData{}) != ctx || n.TraceDialStart(ctx, pool.DialData{}) != ctx ||
		n.TraceHealthCheckStart(ctx, pool.HealthCheckData{}) != ctx {
		t.Error("start hooks must return ctx")
	}
	n.TraceGetEnd(ctx, pool.GetData{})
	n.TraceDialEnd(ctx, pool.DialData{})
	n.TraceHealthCheckEnd(ctx, pool.HealthCheckData{})
	n.TraceRelease(pool.ReleaseData{})
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
	// An eviction is a close naming the strategy; other closes name none.
	buf.Reset()
	st := pool.NewSlogTracer(log)
	st.TraceConnClose(pool.ConnCloseData{Key: "e", ConnID: 7, Reason: pool.ReasonEvicted, Strategy: "fifo"})
	st.TraceConnClose(pool.ConnCloseData{Key: "i", ConnID: 8, Reason: pool.ReasonIdle})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"reason":"evicted","strategy":"fifo"`) ||
		!strings.Contains(lines[1], `"reason":"idle"`) || strings.Contains(lines[1], "strategy") {
		t.Errorf("close records:\n%s", buf.String())
	}
	tr := pool.NewSlogTracer(nil)
	tr.TraceConnClose(pool.ConnCloseData{Key: "k"}) // default logger: must not panic
	if tr.TraceGetStart(context.Background(), pool.GetData{}) == nil {
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
	b, err := json.Marshal(es[0])
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatal(b, err)
	}
	if m["state"] != "active" || m["key"] != "deploy@web1:22" || m["remote_addr"] != "127.0.0.1:2001" ||
		m["metadata"].(map[string]any)["region"] != "eu" || m["expires"] == nil {
		t.Errorf("JSON = %s", b)
	}
	_ = p.MarkUnhealthy(c, nil)
	if e := p.Entries()[0]; e.State != pool.StateUnhealthy || e.Reason != "unhealthy" {
		t.Errorf("after mark: %+v", e)
	}
	mustRelease(t, p, "deploy@web1:22", c)
}

// TestCloseReasonsInSnapshot: every close reason is a key of
// ClosedByReason, by its name, from a new pool on.
func TestCloseReasonsInSnapshot(t *testing.T) {
	p := newTestPool(t, newFactory(), testConfig(), nil)
	got := p.GetSnapshot().ClosedByReason
	want := []pool.CloseReason{pool.ReasonIdle, pool.ReasonLifetime, pool.ReasonUnhealthy, pool.ReasonEvicted, pool.ReasonLimit, pool.ReasonPoolClosed}
	if len(got) != len(want) {
		t.Fatalf("ClosedByReason = %v, want the %d reasons", got, len(want))
	}
	for _, r := range want {
		if n, ok := got[r]; !ok || n != 0 {
			t.Errorf("ClosedByReason[%s] = %d, %v; want 0, present", r, n, ok)
		}
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
