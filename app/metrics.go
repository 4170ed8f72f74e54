package app

import (
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
)

// Metrics is what /metrics?format=json reports: the pool's snapshot, the
// router's counters and the flags' counters. Every count is cumulative.
// The Prometheus exposition (package metrics) carries the same figures.
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
	sort.Slice(fm.ByKey, func(i, j int) bool { return seriesKey(fm.ByKey[i].Labels) < seriesKey(fm.ByKey[j].Labels) })
	if fp, ok := m.FlagProvider.(*featureflags.FileProvider); ok {
		ps := fp.Stats()
		fm.Reloads, fm.ReloadErrors, fm.Flags, fm.LastError = ps.Reloads, ps.ReloadErrors, ps.Flags, ps.LastError
	}
	return fm
}

func (a *Admin) metrics(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, http.StatusOK, CollectMetrics(a.m))
		return
	}
	promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}

// seriesKey orders flag series: flag, reason, variant, error code.
func seriesKey(l map[string]string) string {
	return l["flag"] + "\x00" + l["reason"] + "\x00" + l["variant"] + "\x00" + l["error_code"]
}
