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
	p := newTestPool(t, newFactory(), testConfig(), rec.hooks())
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
	p := newTestPool(t, f, testConfig(), rec.hooks())
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
	mu                       sync.Mutex // guards the slices
	getStarts, getEnds       []pool.GetData
	dialStarts, dialEnds     []pool.DialData
	healthStarts, healthEnds []pool.HealthCheckData
}

// hooks returns the Get, dial and health-check hooks recording into r.
func (r *pairTracer) hooks() *pool.Tracer {
	return &pool.Tracer{
		GetStart:  func(ctx context.Context, d pool.GetData) context.Context { keep(r, &r.getStarts, d); return ctx },
		GetEnd:    func(_ context.Context, d pool.GetData) { keep(r, &r.getEnds, d) },
		DialStart: func(ctx context.Context, d pool.DialData) context.Context { keep(r, &r.dialStarts, d); return ctx },
		DialEnd:   func(_ context.Context, d pool.DialData) { keep(r, &r.dialEnds, d) },
		HealthCheckStart: func(ctx context.Context, d pool.HealthCheckData) context.Context {
			keep(r, &r.healthStarts, d)
			return ctx
		},
		HealthCheckEnd: func(_ context.Context, d pool.HealthCheckData) { keep(r, &r.healthEnds, d) },
	}
}

// keep appends d to *to under r.mu.
func keep[D any](r *pairTracer, to *[]D, d D) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*to = append(*to, d)
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
	p := newTestPool(t, f, testConfig(), rec.hooks())
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

// TestMultiTracer: the combined tracer calls each hook of every tracer
// that sets it, in order, with the data it was given.
func TestMultiTracer(t *testing.T) {
	a, b := &recTracer{}, &recTracer{}
	m := pool.MultiTracer(a.hooks(), nil, &pool.Tracer{}, b.hooks())
	ctx := context.Background()
	m.GetEnd(m.GetStart(ctx, pool.GetData{Key: "k"}), pool.GetData{Key: "k"})
	m.DialEnd(m.DialStart(ctx, pool.DialData{Key: "k"}), pool.DialData{Key: "k"})
	m.HealthCheckEnd(m.HealthCheckStart(ctx, pool.HealthCheckData{Key: "k"}), pool.HealthCheckData{Key: "k"})
	m.Release(pool.ReleaseData{Key: "k"})
	m.StateChange(pool.StateChangeData{Key: "k"})
	m.ConnClose(pool.ConnCloseData{Key: "k", Reason: pool.ReasonEvicted, Strategy: "lru"})
	m.Misuse(pool.MisuseData{Key: "k"})
	for _, r := range []*recTracer{a, b} {
		if len(r.events) != 10 || r.events[8] != "close k evicted strategy=lru" {
			t.Errorf("tracer saw %d events, want 10 with the close's strategy: %q", len(r.events), r.events)
		}
	}
	if m.CommandStart != nil || m.CommandEnd != nil || m.HealthEvent != nil {
		t.Error("MultiTracer set hooks that none of its tracers sets")
	}
}

// ctxKey keys the values chainTracer's Start hooks add.
type ctxKey string

// chainTracer is a Tracer named name whose Start hooks add name to the
// context and whose command End and health-event hooks record, in *seen,
// what reached them: the names in the End's context, and the event's key.
func chainTracer(name string, seen *[]string) *pool.Tracer {
	return &pool.Tracer{
		GetStart: func(ctx context.Context, _ pool.GetData) context.Context {
			return context.WithValue(ctx, ctxKey(name), name)
		},
		CommandStart: func(ctx context.Context, _ pool.CommandData) context.Context {
			return context.WithValue(ctx, ctxKey(name), name)
		},
		CommandEnd: func(ctx context.Context, d pool.CommandData) {
			a, _ := ctx.Value(ctxKey("a")).(string)
			b, _ := ctx.Value(ctxKey("b")).(string)
			*seen = append(*seen, name+" end "+d.Cmd+" sees "+a+b)
		},
		HealthEvent: func(ev pool.HealthEvent) { *seen = append(*seen, name+" event "+ev.Key) },
	}
}

// TestMultiTracerChainsStarts: each Start hook receives the context the
// previous tracer's returned, every End hook the last one; the command
// and health-event hooks reach every tracer, in order, on a real pool.
func TestMultiTracerChainsStarts(t *testing.T) {
	var seen []string
	m := pool.MultiTracer(chainTracer("a", &seen), chainTracer("b", &seen))
	ctx := m.GetStart(context.Background(), pool.GetData{})
	if ctx.Value(ctxKey("a")) != "a" || ctx.Value(ctxKey("b")) != "b" {
		t.Errorf("GetStart's context lacks a tracer's value: a=%v b=%v", ctx.Value(ctxKey("a")), ctx.Value(ctxKey("b")))
	}
	if m.GetEnd != nil || m.Release != nil {
		t.Error("MultiTracer set hooks that none of its tracers sets")
	}
	p := newTestPool(t, newFactory(), testConfig(), m)
	if _, err := p.Run(context.Background(), "k", "ok"); err != nil {
		t.Fatal(err)
	}
	m.HealthEvent(pool.HealthEvent{Key: "h"})
	want := []string{"a end ok sees ab", "b end ok sees ab", "a event h", "b event h"}
	if !slices.Equal(seen, want) {
		t.Errorf("hooks saw %q, want %q", seen, want)
	}
}

// TestMultiTracerOfNothing: nil tracers and tracers without hooks are
// dropped, leaving nil, which a pool takes as "no tracing"; one tracer
// left is returned as is.
func TestMultiTracerOfNothing(t *testing.T) {
	if m := pool.MultiTracer(); m != nil {
		t.Errorf("MultiTracer() = %+v, want nil", m)
	}
	if m := pool.MultiTracer(nil, &pool.Tracer{}, nil); m != nil {
		t.Errorf("MultiTracer of nils and empties = %+v, want nil", m)
	}
	one := (&recTracer{}).hooks()
	if pool.MultiTracer(nil, one, &pool.Tracer{}) != one {
		t.Error("MultiTracer of one tracer is not that tracer")
	}
}

// TestTracerWithSomeHooks: a Tracer that sets only some hooks gets those
// called and the others skipped (an End without its Start receives the
// caller's context, a Release without Get hooks still fires), and the
// pool copies the Tracer: a hook set after NewPool is never called.
func TestTracerWithSomeHooks(t *testing.T) {
	type ctxKey struct{}
	var callers []any
	var releases, misuses int
	tr := &pool.Tracer{
		GetEnd: func(ctx context.Context, d pool.GetData) { callers = append(callers, ctx.Value(ctxKey{})) },
		Release: func(d pool.ReleaseData) {
			if d.Key == "a" && d.ConnID == 1 && d.Held >= 0 && d.Held < time.Minute { // stamped at Get
				releases++
			}
		},
	}
	p := newTestPool(t, newFactory(), testConfig(), tr)
	tr.Misuse = func(pool.MisuseData) { misuses++ }
	c, err := p.Get(context.WithValue(context.Background(), ctxKey{}, "caller"), "a")
	if err != nil {
		t.Fatal(err)
	}
	mustRelease(t, p, "a", c)
	if err := p.Release("a", c); !errors.Is(err, pool.ErrLeaseReleased) {
		t.Fatalf("double release: %v", err)
	}
	if _, err := p.Run(context.Background(), "a", "ok"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(callers, []any{"caller", nil}) || releases != 2 || misuses != 0 {
		t.Errorf("GetEnd saw contexts carrying %v, Release fired %d times, Misuse %d; want [caller <nil>], 2, 0",
			callers, releases, misuses)
	}
}

// TestNoTracerAllocatesNothingExtra: Get+Release allocate only the lease
// with no tracer, with a Tracer that sets no hook, and with one whose hot
// path hooks are all set: the data values stay on the stack.
func TestNoTracerAllocatesNothingExtra(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   *pool.Tracer
	}{{"nil", nil}, {"empty", &pool.Tracer{}}, {"get-and-release", (&countTracer{}).hooks()}} {
		p := newTestPool(t, newFactory(), testConfig(), tc.tr)
		c := mustGet(t, p, "a")
		mustRelease(t, p, "a", c)
		ctx := context.Background()
		allocs := testing.AllocsPerRun(1000, func() {
			c, _ := p.Get(ctx, "a")
			_ = p.Release("a", c)
		})
		if allocs > 1 {
			t.Errorf("tracer %s: %v allocs per Get+Release, want ≤ 1 (the lease)", tc.name, allocs)
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
	// Through MultiTracer, which forwards health events to the tracers that
	// take them.
	pool.MultiTracer(pool.NewSlogTracer(log), (&recTracer{}).hooks()).HealthEvent(
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
	st.ConnClose(pool.ConnCloseData{Key: "e", ConnID: 7, Reason: pool.ReasonEvicted, Strategy: "fifo"})
	st.ConnClose(pool.ConnCloseData{Key: "i", ConnID: 8, Reason: pool.ReasonIdle})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"reason":"evicted","strategy":"fifo"`) ||
		!strings.Contains(lines[1], `"reason":"idle"`) || strings.Contains(lines[1], "strategy") {
		t.Errorf("close records:\n%s", buf.String())
	}
	tr := pool.NewSlogTracer(nil)
	tr.ConnClose(pool.ConnCloseData{Key: "k"}) // default logger: must not panic
	if tr.GetStart != nil || tr.DialStart != nil || tr.HealthCheckStart != nil || tr.CommandStart != nil {
		t.Error("the slog tracer sets a Start hook: it has nothing to start")
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
