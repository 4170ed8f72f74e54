package otelsshpool_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/otelsshpool"
	"github.com/sshpool/sshpool/pool"
)

// recorder returns a tracer whose spans end up in the returned recorder.
func recorder(t *testing.T, opts ...otelsshpool.Option) (*otelsshpool.Tracer, *tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return otelsshpool.NewTracer(append(opts, otelsshpool.WithTracerProvider(tp))...), sr, tp.Tracer("test")
}

// spansNamed returns the ended spans called name.
func spansNamed(sr *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestSpansOfARun: Pool.Run under a caller's span gives a get span (with
// hit and wait), a dial span as its child, and a command span, all
// children of the caller's span, with the program name but not the
// arguments.
func TestSpansOfARun(t *testing.T) {
	tr, sr, app := recorder(t)
	p := newPool(t, pool.PoolConfig{}, tr.Pool())
	ctx, parent := app.Start(context.Background(), "request")
	if _, err := p.Run(ctx, "web", "echo s3cret-token"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(ctx, "web", "false"); err == nil {
		t.Fatal("false succeeded")
	}
	parent.End()

	gets, dials, cmds := spansNamed(sr, "sshpool.get"), spansNamed(sr, "sshpool.dial"), spansNamed(sr, "sshpool.command")
	if len(gets) != 2 || len(dials) != 1 || len(cmds) != 2 {
		t.Fatalf("%d gets, %d dials, %d commands; want 2, 1, 2", len(gets), len(dials), len(cmds))
	}
	root := parent.SpanContext().SpanID()
	for _, s := range append(gets, cmds...) {
		if s.Parent().SpanID() != root {
			t.Errorf("%s is not a child of the caller's span", s.Name())
		}
	}
	if dials[0].Parent().SpanID() != gets[0].SpanContext().SpanID() || dials[0].SpanKind() != trace.SpanKindClient {
		t.Errorf("dial parent %v kind %v, want the first get, client", dials[0].Parent().SpanID(), dials[0].SpanKind())
	}
	if hit, _ := attr(gets[0], otelsshpool.KeyGetHit); hit.AsBool() {
		t.Error("the first Get (a dial) is marked a hit")
	}
	if hit, _ := attr(gets[1], otelsshpool.KeyGetHit); !hit.AsBool() {
		t.Error("the second Get is not marked a hit")
	}
	if w, ok := attr(gets[0], otelsshpool.KeyGetWait); !ok || w.AsFloat64() <= 0 {
		t.Errorf("first Get wait %v, want > 0 (it waited for the dial)", w.AsFloat64())
	}
	for _, s := range cmds {
		if exe, _ := attr(s, otelsshpool.KeyExecutable); exe.AsString() != "echo" && exe.AsString() != "false" {
			t.Errorf("executable %q", exe.AsString())
		}
		if _, ok := attr(s, otelsshpool.KeyCommandLine); ok {
			t.Error("the command line is recorded without WithCommandLine")
		}
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.String(), "s3cret") {
				t.Errorf("a command argument reached attribute %s", kv.Key)
			}
		}
	}
	failed := cmds[1]
	if code, _ := attr(failed, otelsshpool.KeyExitCode); code.AsInt64() != 1 || failed.Status().Code != codes.Error {
		t.Errorf("failed command: exit %v status %v", code.AsInt64(), failed.Status())
	}
	if et, _ := attr(failed, otelsshpool.KeyErrorType); et.AsString() != failure.Exit.String() {
		t.Errorf("error.type %q", et.AsString())
	}
}

// TestWithCommandLine records the whole line.
func TestWithCommandLine(t *testing.T) {
	tr, sr, _ := recorder(t, otelsshpool.WithCommandLine())
	p := newPool(t, pool.PoolConfig{}, tr.Pool())
	if _, err := p.Run(context.Background(), "web", "echo a b"); err != nil {
		t.Fatal(err)
	}
	cmds := spansNamed(sr, "sshpool.command")
	if len(cmds) != 1 {
		t.Fatalf("%d command spans", len(cmds))
	}
	if line, _ := attr(cmds[0], otelsshpool.KeyCommandLine); line.AsString() != "echo a b" {
		t.Errorf("command line %q", line.AsString())
	}
}

func TestExecutable(t *testing.T) {
	for cmd, want := range map[string]string{
		"ls -l":                           "ls",
		"  /usr/bin/env -i ls":            "env",
		"TOKEN=s3cret deploy --force":     "deploy",
		"A=1 B=2 'run me' x":              "run",
		"":                                "",
		"echo a=b":                        "echo",
		"./bin/tool --password=hunter2":   "tool",
		"PATH=/x:$PATH \"/opt/my app/x\"": "my",
		"X=1":                             "",
	} {
		if got := otelsshpool.Executable(cmd); got != want {
			t.Errorf("Executable(%q) = %q, want %q", cmd, got, want)
		}
	}
}

// TestHealthAndEvents: a health probe span, and event spans for a state
// change (MarkUnhealthy), the connection's close and a misuse.
func TestHealthAndEvents(t *testing.T) {
	tr, sr, _ := recorder(t)
	p := newPool(t, pool.PoolConfig{}, tr.Pool())
	c, err := p.Get(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release("web", c); err != nil {
		t.Fatal(err)
	}
	p.HealthCheck(context.Background())
	if hc := spansNamed(sr, "sshpool.health_check"); len(hc) != 1 || hc[0].Status().Code == codes.Error {
		t.Fatalf("health spans %v", hc)
	}
	p.Release("web", c) // a double release: misuse
	c2, _ := p.Get(context.Background(), "web")
	p.MarkUnhealthy(c2, errors.New("test: bad"))
	p.Release("web", c2)
	p.Close()
	events := map[string]bool{}
	for _, s := range spansNamed(sr, "sshpool.event") {
		for _, e := range s.Events() {
			events[e.Name] = true
		}
	}
	for _, want := range []string{"sshpool.misuse", "sshpool.state_change", "sshpool.conn_close"} {
		if !events[want] {
			t.Errorf("no %s event; got %v", want, events)
		}
	}
}

// TestEviction: a Get for a new key at MaxConnections evicts the other
// key's idle connection: one sshpool.conn_close event for it, with reason
// evicted and the strategy; a close for another reason names no strategy.
func TestEviction(t *testing.T) {
	tr, sr, _ := recorder(t)
	p := newPool(t, pool.PoolConfig{MaxConnections: 1}, tr.Pool())
	for _, key := range []string{"web", "web2"} {
		if _, err := p.Run(context.Background(), key, "true"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	var closes []string
	for _, s := range spansNamed(sr, "sshpool.event") {
		for _, e := range s.Events() {
			if e.Name != "sshpool.conn_close" {
				continue
			}
			attrs := attribute.NewSet(e.Attributes...)
			key, _ := attrs.Value(otelsshpool.KeyPoolKey)
			reason, _ := attrs.Value(otelsshpool.KeyReason)
			strategy, ok := attrs.Value(otelsshpool.KeyStrategy)
			c := key.AsString() + " " + reason.AsString()
			if ok {
				c += " strategy=" + strategy.AsString()
			}
			closes = append(closes, c)
		}
	}
	slices.Sort(closes)
	if want := []string{"web evicted strategy=lru", "web2 pool-closed"}; !slices.Equal(closes, want) {
		t.Errorf("conn_close events %q, want %q", closes, want)
	}
}

// TestDecisionAndFlagHook: a routing decision becomes an sshpool.route
// span lasting its latency; a flag evaluation adds an event to the span
// in its context, and nothing without one.
func TestDecisionAndFlagHook(t *testing.T) {
	tr, sr, app := recorder(t)
	tr.Decision(legacy.Decision{Server: &legacy.Server{ID: "web-1", Host: "10.0.0.5"}, Route: legacy.RouteNew,
		Reason: legacy.ReasonFlagOn, Flag: featureflags.FlagUseNewPool, Variant: "on", Latency: 3 * time.Millisecond})
	routes := spansNamed(sr, "sshpool.route")
	if len(routes) != 1 {
		t.Fatalf("%d route spans", len(routes))
	}
	r := routes[0]
	if d := r.EndTime().Sub(r.StartTime()); d != 3*time.Millisecond {
		t.Errorf("route span lasts %v, want the decision's 3ms", d)
	}
	if id, _ := attr(r, otelsshpool.KeyServerID); id.AsString() != "web-1" {
		t.Errorf("server id %q", id.AsString())
	}
	for _, kv := range r.Attributes() {
		if strings.Contains(kv.Value.String(), "10.0.0.5") {
			t.Errorf("the host reached %s", kv.Key)
		}
	}

	api := openfeatureAPI(t)
	client := api.NewClient()
	client.AddHooks(tr.FlagHook())
	ctx, span := app.Start(context.Background(), "request")
	client.Boolean(ctx, "missing-flag", false, openfeature.NewEvaluationContext("web-1", map[string]any{"host": "10.0.0.5"}))
	span.End()
	client.Boolean(context.Background(), "missing-flag", false, openfeature.EvaluationContext{})
	req := spansNamed(sr, "request")[0]
	if len(req.Events()) != 1 || req.Events()[0].Name != "feature_flag.evaluation" {
		t.Fatalf("events %v", req.Events())
	}
	ev := req.Events()[0]
	var key, errType, reason string
	for _, kv := range ev.Attributes {
		switch kv.Key {
		case otelsshpool.KeyFlagKey:
			key = kv.Value.AsString()
		case otelsshpool.KeyErrorType:
			errType = kv.Value.AsString()
		case otelsshpool.KeyFlagReason:
			reason = kv.Value.AsString()
		}
		if strings.Contains(kv.Value.String(), "10.0.0.5") {
			t.Errorf("an evaluation context attribute reached %s", kv.Key)
		}
	}
	// The semantic conventions' values, lower case (as OpenFeature's
	// telemetry.CreateEvaluationEvent writes them).
	if key != "missing-flag" || errType != "flag_not_found" || reason != "error" {
		t.Errorf("flag event key %q error.type %q reason %q, want missing-flag, flag_not_found, error", key, errType, reason)
	}
}

// TestFanOutWithSlog: pool.MultiTracer combines the slog tracer and this
// one: both see the same operations, and the optional command and health
// hooks still reach the OpenTelemetry side.
func TestFanOutWithSlog(t *testing.T) {
	tr, sr, _ := recorder(t)
	var logs capture.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newPool(t, pool.PoolConfig{}, pool.MultiTracer(pool.NewSlogTracer(logger), tr.Pool()))
	if _, err := p.Run(context.Background(), "web", "true"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "pool dial") || !strings.Contains(logs.String(), "pool get") {
		t.Errorf("slog side saw nothing:\n%s", logs.String())
	}
	if len(spansNamed(sr, "sshpool.dial")) != 1 || len(spansNamed(sr, "sshpool.command")) != 1 {
		t.Errorf("OpenTelemetry side: %d dials, %d commands", len(spansNamed(sr, "sshpool.dial")), len(spansNamed(sr, "sshpool.command")))
	}
}

// TestLeakEvent: a lease held past LeakThreshold becomes an
// sshpool.health.leak event with how long it was held, and never the
// Get's stack (DebugLeaks), which holds the caller's code paths.
func TestLeakEvent(t *testing.T) {
	tr, sr, _ := recorder(t)
	p := newPool(t, pool.PoolConfig{LeakThreshold: 20 * time.Millisecond,
		Advanced: pool.AdvancedPoolConfig{DebugLeaks: true}}, tr.Pool())
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := p.Get(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	var leak *sdktrace.Event
	for deadline := time.Now().Add(10 * time.Second); leak == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, s := range spansNamed(sr, "sshpool.event") {
			for _, e := range s.Events() {
				if e.Name == "sshpool.health.leak" {
					leak = &e
				}
			}
		}
	}
	p.Release("web", c)
	if leak == nil {
		t.Fatal("no sshpool.health.leak event within 10s of a lease held past a 20ms threshold")
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range leak.Attributes {
		attrs[kv.Key] = kv.Value
		if strings.Contains(kv.Value.String(), "TestLeakEvent") {
			t.Errorf("the Get's stack reached attribute %s", kv.Key)
		}
	}
	if attrs[otelsshpool.KeyPoolKey].AsString() != "web" || attrs[otelsshpool.KeyHeld].AsFloat64() < 0.02 {
		t.Errorf("leak event attributes %v", leak.Attributes)
	}
}

// TestPoolHooks: the pool hooks cover every operation but the instant
// release, which records no span, so a pool with only these hooks does
// not stamp its leases; Observers carries the same hooks.
func TestPoolHooks(t *testing.T) {
	tr, _, _ := recorder(t)
	for name, h := range map[string]*pool.Tracer{"Pool": tr.Pool(), "Observers": tr.Observers().Tracer} {
		if h.Release != nil {
			t.Errorf("%s: Release is set", name)
		}
		if h.GetStart == nil || h.GetEnd == nil || h.DialStart == nil || h.DialEnd == nil ||
			h.HealthCheckStart == nil || h.HealthCheckEnd == nil || h.CommandStart == nil || h.CommandEnd == nil ||
			h.StateChange == nil || h.ConnClose == nil || h.Misuse == nil || h.HealthEvent == nil {
			t.Errorf("%s: a hook is missing: %+v", name, h)
		}
	}
}
