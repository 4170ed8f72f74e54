package metrics

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
)

// otherSeries labels the evaluations a MetricsHook counted beyond its
// series limit (featureflags.MaxMetricsSeries), whose keys it dropped.
const otherSeries = "(other)"

// collectRouter sends the router's families. Every (pool, reason) pair is
// sent, zeros included, so that rate() sees a series from its first
// decision.
func (c *Collector) collectRouter(ch chan<- prometheus.Metric, s legacy.RouterStats) {
	for route := range s.ByReason {
		for reason, n := range s.ByReason[route] {
			counter(ch, c.d.decisions, n, legacy.Route(route).String(), legacy.Reason(reason).String())
		}
	}
	counter(ch, c.d.fallbacks, s.Fallbacks)
	counter(ch, c.d.routeChanges, s.RouteChanges)
	counter(ch, c.d.drained, s.Drained)
}

// evalSeries is one flag evaluation series, with sanitised label values.
type evalSeries struct{ flag, reason, variant, code string }

// collectEvaluations sends the evaluation counters per series. Series are merged after sanitising label values,
// so two keys that differ only in invalid bytes make one series.
func (c *Collector) collectEvaluations(ch chan<- prometheus.Metric, s featureflags.MetricsSnapshot) {
	series := make(map[evalSeries]int64, len(s.ByKey)+1)
	for k, n := range s.ByKey {
		flag := labelValue(k.Flag)
		series[evalSeries{flag, labelValue(string(k.Reason)), labelValue(k.Variant), labelValue(string(k.ErrorCode))}] += n
	}
	if s.Overflow > 0 {
		series[evalSeries{otherSeries, otherSeries, otherSeries, otherSeries}] += s.Overflow
	}
	for k, n := range series {
		counter(ch, c.d.evaluations, n, k.flag, k.reason, k.variant, k.code)
	}
	counter(ch, c.d.evaluationErrors, s.Errors)
}

// collectProvider sends the flag document's reload counters and, per flag,
// the documents that put a rule with errors in force (merged after
// sanitising the flag key, as evaluation series are).
func (c *Collector) collectProvider(ch chan<- prometheus.Metric, s featureflags.ProviderStats) {
	rules := make(map[string]int64, len(s.RuleErrors))
	for flag, n := range s.RuleErrors {
		rules[labelValue(flag)] += n
	}
	for flag, n := range rules {
		counter(ch, c.d.ruleErrors, n, flag)
	}
	counter(ch, c.d.reloads, s.Reloads)
	counter(ch, c.d.reloadErrors, s.ReloadErrors)
	gauge(ch, c.d.flags, int64(s.Flags))
}

// labelValue returns s with every run of bytes that is not valid UTF-8
// replaced by U+FFFD: client_golang refuses such label values, and one
// would fail the whole scrape.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
