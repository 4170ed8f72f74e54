package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/pool"
)

// TestWritePrometheusPoolSeries: every health and lifecycle counter of
// the pool's snapshot reaches the exposition with its value.
func TestWritePrometheusPoolSeries(t *testing.T) {
	var b strings.Builder
	app.WritePrometheus(&b, app.Metrics{Pool: pool.Snapshot{
		CircuitOpens: 3, Replacements: 5, Leaks: 7, WarmupFailures: 11, RunRetries: 17, SessionLimitRetries: 19,
		AvgDialLatency: 40 * time.Millisecond, AvgResponseTime: 2500 * time.Microsecond,
		ClosedByReason: map[pool.CloseReason]int64{pool.ReasonUnhealthy: 13},
	}})
	out := b.String()
	for _, want := range []string{
		"# TYPE sshpool_pool_circuit_opens_total counter\nsshpool_pool_circuit_opens_total 3\n",
		"sshpool_pool_replacements_total 5\n", "sshpool_pool_run_retries_total 17\n", "sshpool_pool_session_limit_retries_total 19\n", "sshpool_pool_leaks_total 7\n", "sshpool_pool_warmup_failures_total 11\n",
		"# TYPE sshpool_pool_dial_latency_seconds_avg gauge\nsshpool_pool_dial_latency_seconds_avg 0.04\n",
		"sshpool_pool_response_seconds_avg 0.0025\n",
		`sshpool_pool_connections_closed_total{reason="unhealthy"} 13` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
}
