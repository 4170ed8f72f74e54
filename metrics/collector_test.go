package metrics_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/latency"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/metrics"
	"github.com/sshpool/sshpool/pool"
)

// Fixed sources.
type (
	poolSrc     pool.Snapshot
	legacySrc   legacy.PoolStats
	routerSrc   legacy.RouterStats
	evalSrc     featureflags.MetricsSnapshot
	providerSrc featureflags.ProviderStats
)

func (s poolSrc) GetSnapshot() pool.Snapshot             { return pool.Snapshot(s) }
func (s legacySrc) Stats() legacy.PoolStats              { return legacy.PoolStats(s) }
func (s routerSrc) Stats() legacy.RouterStats            { return legacy.RouterStats(s) }
func (s evalSrc) Snapshot() featureflags.MetricsSnapshot { return featureflags.MetricsSnapshot(s) }
func (s providerSrc) Stats() featureflags.ProviderStats  { return featureflags.ProviderStats(s) }

// histogram records ds into a LatencyHistogram.
func histogram(ds ...time.Duration) pool.LatencyHistogram {
	var r latency.Recorder
	for _, d := range ds {
		r.Observe(d)
	}
	return pool.LatencyHistogram(r.Snapshot())
}

func fullSources() metrics.Sources {
	var router legacy.RouterStats
	router.ByReason[legacy.RouteNew][legacy.ReasonFlagOn] = 7
	router.ByReason[legacy.RouteLegacy][legacy.ReasonFlagOff] = 3
	router.Fallbacks, router.RouteChanges, router.Drained = 1, 2, 1
	return metrics.Sources{
		Pool: poolSrc{Active: 2, Idle: 1, Dialing: 1, MaxConnections: 50, LeasesOutstanding: 3, Waiting: 1,
			Gets: 100, Hits: 90, Misses: 10, GetTimeouts: 4, GetCancellations: 5, DialFailures: 1,
			CommandErrors: 6, HealthChecks: 20, HealthFailures: 2, Created: 9, RunRetries: 1, SessionLimitRetries: 8,
			ClosedByReason: map[pool.CloseReason]int64{pool.ReasonIdle: 3, pool.ReasonUnhealthy: 1},
			WaitLatency:    histogram(3 * time.Millisecond), DialLatency: histogram(40*time.Millisecond, 2*time.Second),
			CommandLatency: histogram(300*time.Microsecond, 4*time.Millisecond, 90*time.Second)},
		Legacy: legacySrc{Connections: 2, Active: 1, Idle: 1, InUse: 1, Dials: 2, DialFailures: 0,
			DialLatency: histogram(45*time.Millisecond, 47*time.Millisecond), Commands: 3, CommandErrors: 1,
			CommandLatency: histogram(3*time.Millisecond, 4*time.Millisecond, 5*time.Millisecond), HealthChecks: 4},
		Router: routerSrc(router),
		FlagEvaluations: evalSrc{Total: 12, Errors: 2, ByKey: map[featureflags.EvaluationKey]int64{
			{Flag: "use-new-pool", Reason: openfeature.TargetingMatchReason, Variant: "on"}:                10,
			{Flag: "use-new-pool", Reason: openfeature.ErrorReason, ErrorCode: openfeature.ParseErrorCode}: 2,
		}},
		FlagProvider: providerSrc{Reloads: 3, ReloadErrors: 1, Flags: 2, RuleErrors: map[string]int64{"use-new-pool": 2}},
	}
}

// TestCollectorLint: every family passes promlint (names, units, _total,
// help texts) and the registry accepts the collector as a checked one.
func TestCollectorLint(t *testing.T) {
	c := metrics.NewCollector(fullSources())
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("pedantic gather: %v", err)
	}
	// The lint covers every family the collector describes: with full
	// sources each one has a series (an empty scrape would lint clean).
	descs := make(chan *prometheus.Desc)
	go func() { c.Describe(descs); close(descs) }()
	described := 0
	for range descs {
		described++
	}
	if described == 0 || len(fams) != described {
		t.Errorf("gathered %d families, the collector describes %d", len(fams), described)
	}
}

// TestCollectorValues: the snapshot values reach their series, histograms
// with cumulative buckets in seconds, both pools in the same families.
func TestCollectorValues(t *testing.T) {
	c := metrics.NewCollector(fullSources())
	const want = `
# HELP sshpool_router_decisions_total Routing decisions by chosen pool and reason.
# TYPE sshpool_router_decisions_total counter
# HELP sshpool_get_timeouts_total Gets that failed because a deadline passed before a lease was free.
# TYPE sshpool_get_timeouts_total counter
sshpool_get_timeouts_total{pool="new"} 4
# HELP sshpool_get_cancellations_total Gets that failed because their context was canceled.
# TYPE sshpool_get_cancellations_total counter
sshpool_get_cancellations_total{pool="new"} 5
# HELP sshpool_command_errors_total Commands that failed, a non-zero exit included.
# TYPE sshpool_command_errors_total counter
sshpool_command_errors_total{pool="legacy"} 1
sshpool_command_errors_total{pool="new"} 6
# HELP sshpool_connections Open connections by state.
# TYPE sshpool_connections gauge
sshpool_connections{pool="legacy",state="active"} 1
sshpool_connections{pool="legacy",state="idle"} 1
sshpool_connections{pool="legacy",state="unhealthy"} 0
sshpool_connections{pool="new",state="active"} 2
sshpool_connections{pool="new",state="draining"} 0
sshpool_connections{pool="new",state="idle"} 1
sshpool_connections{pool="new",state="unhealthy"} 0
# HELP sshpool_flag_rule_errors_total Flag documents loaded with a targeting rule that has errors (the flag evaluates to its default), by flag.
# TYPE sshpool_flag_rule_errors_total counter
sshpool_flag_rule_errors_total{flag="use-new-pool"} 2
# HELP sshpool_flag_reload_errors_total Flag file reloads refused: unreadable or invalid file.
# TYPE sshpool_flag_reload_errors_total counter
sshpool_flag_reload_errors_total 1
# HELP sshpool_session_limit_retries_total Commands whose session the server refused at its session limit, opened again.
# TYPE sshpool_session_limit_retries_total counter
sshpool_session_limit_retries_total{pool="new"} 8
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "sshpool_get_timeouts_total",
		"sshpool_get_cancellations_total", "sshpool_command_errors_total", "sshpool_connections",
		"sshpool_flag_rule_errors_total", "sshpool_flag_reload_errors_total", "sshpool_session_limit_retries_total"); err != nil {
		t.Error(err)
	}

	fams := gather(t, c)
	decisions := fams["sshpool_router_decisions_total"]
	if got := value(t, decisions, map[string]string{"pool": "new", "reason": "flag-on"}); got != 7 {
		t.Errorf("decisions new/flag-on = %v", got)
	}
	if got := value(t, decisions, map[string]string{"pool": "legacy", "reason": "kill-switch"}); got != 0 {
		t.Errorf("decisions legacy/kill-switch = %v, want an explicit 0", got)
	}

	cmd := fams["sshpool_command_duration_seconds"]
	for _, m := range cmd.GetMetric() {
		h := m.GetHistogram()
		pl := m.GetLabel()[0].GetValue()
		switch pl {
		case "new": // 0.3 ms, 4 ms, 90 s
			if h.GetSampleCount() != 3 || h.GetSampleSum() < 90 || cumulative(h, 0.0005) != 1 || cumulative(h, 0.005) != 2 || cumulative(h, 60) != 2 {
				t.Errorf("new: %v", h)
			}
		case "legacy": // 3, 4, 5 ms
			if h.GetSampleCount() != 3 || cumulative(h, 0.0025) != 0 || cumulative(h, 0.005) != 3 {
				t.Errorf("legacy: %v", h)
			}
		default:
			t.Errorf("pool label %q", pl)
		}
	}
	if n := len(cmd.GetMetric()); n != 2 {
		t.Errorf("%d command histograms, want new and legacy", n)
	}
}

// TestCollectorPartialSources: nil sources leave their families out.
func TestCollectorPartialSources(t *testing.T) {
	c := metrics.NewCollector(metrics.Sources{Legacy: legacySrc{}})
	if n := testutil.CollectAndCount(c, "sshpool_get_timeouts_total", "sshpool_router_decisions_total", "sshpool_flags"); n != 0 {
		t.Errorf("%d series from absent sources", n)
	}
	if n := testutil.CollectAndCount(c, "sshpool_command_duration_seconds"); n != 1 {
		t.Errorf("%d legacy command histograms, want 1", n)
	}
}

// TestHostileLabelValues: flag keys and variants with a tab, a
// non-breaking space, a quote, a backslash, a newline and invalid UTF-8
// still give a scrape that Prometheus' parser reads back and promlint
// accepts; two keys that differ only in invalid bytes become one series
// with the sum of their counts.
func TestHostileLabelValues(t *testing.T) {
	keys := map[featureflags.EvaluationKey]int64{
		{Flag: "tab\there", Reason: openfeature.StaticReason, Variant: "nbsp\u00a0v"}:                 1,
		{Flag: "quote\"back\\slash\nnewline", Reason: openfeature.StaticReason, Variant: "on"}:        2,
		{Flag: "bad\xffutf8", Reason: openfeature.ErrorReason, ErrorCode: openfeature.ParseErrorCode}: 3,
		{Flag: "bad\xfeutf8", Reason: openfeature.ErrorReason, ErrorCode: openfeature.ParseErrorCode}: 4,
		{Flag: "ok", Reason: openfeature.StaticReason, Variant: "\xc3"}:                               5,
	}
	rules := map[string]int64{"bad\xffutf8": 3, "bad\xfeutf8": 4}
	c := metrics.NewCollector(metrics.Sources{FlagEvaluations: evalSrc{ByKey: keys}, FlagProvider: providerSrc{RuleErrors: rules}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	text := buf.Bytes()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v\n%s", err, text)
	}
	evals := parsed["sshpool_flag_evaluations_total"]
	for flag, want := range map[string]float64{"tab\there": 1, "quote\"back\\slash\nnewline": 2, "bad\ufffdutf8": 7, "ok": 5} {
		if got := value(t, evals, map[string]string{"flag": flag}); got != want {
			t.Errorf("flag %q = %v, want %v", flag, got, want)
		}
	}
	if got := value(t, evals, map[string]string{"variant": "nbsp\u00a0v"}); got != 1 {
		t.Errorf("NBSP variant = %v", got)
	}
	if got := value(t, parsed["sshpool_flag_rule_errors_total"], map[string]string{"flag": "bad\ufffdutf8"}); got != 7 {
		t.Errorf("merged rule errors = %v", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestFlagSourceConnected: the gauge follows the source's health, so an
// alert can tell instances whose flags cannot change (etcd lost).
func TestFlagSourceConnected(t *testing.T) {
	for _, connected := range []bool{true, false} {
		c := metrics.NewCollector(metrics.Sources{FlagProvider: providerSrc{
			Health: featureflags.SourceHealth{Connected: connected, Detail: "etcd: unreachable"}}})
		want := 0.0
		if connected {
			want = 1
		}
		if got := value(t, gather(t, c)["sshpool_flag_source_connected"], nil); got != want {
			t.Errorf("connected=%v: gauge %v", connected, got)
		}
	}
}
