package app

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
)

// Metrics is what /metrics reports: the pool's snapshot, the router's
// counters and the flags' counters. Every count is cumulative.
type Metrics struct {
	Pool   pool.Snapshot `json:"pool"`
	Router RouterMetrics `json:"router"`
	Flags  FlagMetrics   `json:"flags"`
}

// RouterMetrics is legacy.RouterStats with named routes and reasons.
type RouterMetrics struct {
	Decisions    int64        `json:"decisions"`
	Legacy       int64        `json:"legacy"`
	New          int64        `json:"new"`
	Fallbacks    int64        `json:"fallbacks"`
	RouteChanges int64        `json:"route_changes"`
	Drained      int64        `json:"drained"`
	ByReason     []LabelCount `json:"by_reason"`
	MeanLatency  float64      `json:"mean_latency_seconds"`
}

// FlagMetrics counts flag evaluations and file reloads.
type FlagMetrics struct {
	Evaluations  int64        `json:"evaluations"`
	Errors       int64        `json:"errors"`
	ByKey        []LabelCount `json:"by_key"`
	Reloads      int64        `json:"reloads"`
	ReloadErrors int64        `json:"reload_errors"`
	Flags        int          `json:"flags_in_force"`
	LastError    string       `json:"last_error,omitempty"`
}

// LabelCount is one labelled series.
type LabelCount struct {
	Labels map[string]string `json:"labels"`
	Count  int64             `json:"count"`
}

// CollectMetrics gathers the metrics of m.
func CollectMetrics(m *providers.Migration) Metrics {
	return Metrics{Pool: m.Pool.GetSnapshot(), Router: routerMetrics(m.Router.Stats()), Flags: flagMetrics(m)}
}

func routerMetrics(s legacy.RouterStats) RouterMetrics {
	rm := RouterMetrics{Decisions: s.Decisions, Legacy: s.Legacy, New: s.New, Fallbacks: s.Fallbacks,
		RouteChanges: s.RouteChanges, Drained: s.Drained, MeanLatency: s.MeanLatency.Seconds()}
	for route := range s.ByReason {
		for reason, n := range s.ByReason[route] {
			if n == 0 {
				continue
			}
			rm.ByReason = append(rm.ByReason, LabelCount{map[string]string{
				"route": legacy.Route(route).String(), "reason": legacy.Reason(reason).String()}, n})
		}
	}
	return rm
}

func flagMetrics(m *providers.Migration) FlagMetrics {
	s := m.FlagMetrics.Snapshot()
	fm := FlagMetrics{Evaluations: s.Total, Errors: s.Errors}
	for k, n := range s.ByKey {
		fm.ByKey = append(fm.ByKey, LabelCount{map[string]string{"flag": k.Flag, "reason": string(k.Reason),
			"variant": k.Variant, "error_code": string(k.ErrorCode)}, n})
	}
	sort.Slice(fm.ByKey, func(i, j int) bool { return labelString(fm.ByKey[i].Labels) < labelString(fm.ByKey[j].Labels) })
	if fp, ok := m.FlagProvider.(*featureflags.FileProvider); ok {
		ps := fp.Stats()
		fm.Reloads, fm.ReloadErrors, fm.Flags, fm.LastError = ps.Reloads, ps.ReloadErrors, ps.Flags, ps.LastError
	}
	return fm
}

func (a *Admin) metrics(w http.ResponseWriter, r *http.Request) {
	mt := CollectMetrics(a.m)
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, http.StatusOK, mt)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	WritePrometheus(w, mt)
}

// promWriter writes the Prometheus text exposition format by hand.
type promWriter struct{ w io.Writer }

func (p promWriter) family(name, typ, help string) {
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (p promWriter) sample(name string, labels map[string]string, v float64) {
	fmt.Fprintf(p.w, "%s%s %s\n", name, labelString(labels), strconv.FormatFloat(v, 'g', -1, 64))
}

func (p promWriter) single(name, typ, help string, v float64) {
	p.family(name, typ, help)
	p.sample(name, nil, v)
}

// labelString renders {a="x",b="y"} with sorted names and escaped values.
func labelString(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", n, labels[n])
	}
	b.WriteByte('}')
	return b.String()
}

// WritePrometheus writes mt in the Prometheus text exposition format
// (version 0.0.4). Metric names start with sshpool_.
func WritePrometheus(w io.Writer, mt Metrics) {
	p := promWriter{w}
	writePoolGauges(p, mt.Pool)
	writePoolCounters(p, mt.Pool)
	writeRouter(p, mt.Router)
	writeFlags(p, mt.Flags)
}

func writePoolGauges(p promWriter, s pool.Snapshot) {
	p.family("sshpool_pool_connections", "gauge", "Open connections by state.")
	for _, st := range []struct {
		state string
		n     int
	}{{"active", s.Active}, {"idle", s.Idle}, {"unhealthy", s.Unhealthy}, {"draining", s.Draining}, {"dialing", s.Dialing}} {
		p.sample("sshpool_pool_connections", map[string]string{"state": st.state}, float64(st.n))
	}
	p.single("sshpool_pool_max_connections", "gauge", "Configured pool-wide connection limit.", float64(s.MaxConnections))
	p.single("sshpool_pool_waiting", "gauge", "Gets waiting for a lease now.", float64(s.Waiting))
	p.single("sshpool_pool_leases_outstanding", "gauge", "Leases handed out and not returned.", float64(s.LeasesOutstanding))
	p.single("sshpool_pool_dial_latency_seconds_avg", "gauge", "Mean duration of finished dials.", s.AvgDialLatency.Seconds())
	p.single("sshpool_pool_response_seconds_avg", "gauge", "Mean duration of Pool.Run (Get to Release).", s.AvgResponseTime.Seconds())
}

func writePoolCounters(p promWriter, s pool.Snapshot) {
	for _, c := range []struct {
		name, help string
		v          float64
	}{
		{"sshpool_pool_gets_total", "Leases granted.", float64(s.Gets)},
		{"sshpool_pool_releases_total", "Leases returned.", float64(s.Releases)},
		{"sshpool_pool_hits_total", "Gets served from an existing connection.", float64(s.Hits)},
		{"sshpool_pool_misses_total", "Gets that started a dial.", float64(s.Misses)},
		{"sshpool_pool_waits_total", "Gets that waited.", float64(s.WaitCount)},
		{"sshpool_pool_wait_seconds_total", "Total time Gets waited.", s.WaitDuration.Seconds()},
		{"sshpool_pool_connections_created_total", "Connections dialled into the pool.", float64(s.Created)},
		{"sshpool_pool_dials_total", "Finished dials.", float64(s.Dials)},
		{"sshpool_pool_dial_failures_total", "Failed dials.", float64(s.DialFailures)},
		{"sshpool_pool_runs_total", "Commands run.", float64(s.Runs)},
		{"sshpool_pool_run_errors_total", "Commands that failed.", float64(s.RunErrors)},
		{"sshpool_pool_run_retries_total", "Commands run again on another connection after theirs was found dead before they started.", float64(s.RunRetries)},
		{"sshpool_pool_session_limit_retries_total", "Commands whose session the server refused at its session limit, opened again.", float64(s.SessionLimitRetries)},
		{"sshpool_pool_misuse_total", "Double releases, foreign clients, use after release.", float64(s.Misuse)},
		{"sshpool_pool_health_checks_total", "Health probes.", float64(s.HealthChecks)},
		{"sshpool_pool_health_failures_total", "Failed health probes.", float64(s.HealthFailures)},
		{"sshpool_pool_warmup_failures_total", "Failed warm-up dials.", float64(s.WarmupFailures)},
		{"sshpool_pool_leaks_total", "Leases reported as held past the leak threshold.", float64(s.Leaks)},
		{"sshpool_pool_replacements_total", "Background dials replacing unhealthy or lost connections.", float64(s.Replacements)},
		{"sshpool_pool_circuit_opens_total", "Times a server's circuit breaker opened (its dials kept failing).", float64(s.CircuitOpens)},
	} {
		p.single(c.name, "counter", c.help, c.v)
	}
	p.family("sshpool_pool_connections_closed_total", "counter", "Connections closed by reason.")
	reasons := make([]pool.CloseReason, 0, len(s.ClosedByReason))
	for r := range s.ClosedByReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return reasons[i] < reasons[j] })
	for _, r := range reasons {
		p.sample("sshpool_pool_connections_closed_total", map[string]string{"reason": r.String()}, float64(s.ClosedByReason[r]))
	}
}

func writeRouter(p promWriter, r RouterMetrics) {
	p.family("sshpool_router_decisions_total", "counter", "Routing decisions by route and reason.")
	for _, lc := range r.ByReason {
		p.sample("sshpool_router_decisions_total", lc.Labels, float64(lc.Count))
	}
	p.single("sshpool_router_fallbacks_total", "counter", "Decisions routed to legacy because evaluation failed.", float64(r.Fallbacks))
	p.single("sshpool_router_route_changes_total", "counter", "Keys whose route changed.", float64(r.RouteChanges))
	p.single("sshpool_router_drained_total", "counter", "Idle connections dropped by the losing pool.", float64(r.Drained))
}

func writeFlags(p promWriter, f FlagMetrics) {
	p.family("sshpool_flag_evaluations_total", "counter", "Flag evaluations by flag, reason, variant and error code.")
	for _, lc := range f.ByKey {
		p.sample("sshpool_flag_evaluations_total", lc.Labels, float64(lc.Count))
	}
	p.single("sshpool_flag_evaluation_errors_total", "counter", "Flag evaluations that ended with an error.", float64(f.Errors))
	p.single("sshpool_flag_reloads_total", "counter", "Flag file reloads that replaced the flags.", float64(f.Reloads))
	p.single("sshpool_flag_reload_errors_total", "counter", "Flag file reloads rejected.", float64(f.ReloadErrors))
	p.single("sshpool_flags_in_force", "gauge", "Flags currently in force.", float64(f.Flags))
}
