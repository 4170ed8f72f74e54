package app_test

import (
	"os"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/providers"
)

// flagsBrokenRule routes every server to the legacy pool: use-new-pool's
// rule has an error (starts_with with one argument), so it loads and the
// flag evaluates to its default variant, off.
const flagsBrokenRule = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"starts_with": [{"var": "host"}]}, "on", "off"]}}}}`

// TestAdminMetricsLegacyAndRuleErrors: what the module wires into the
// collector reaches the admin server's /metrics, read back with
// Prometheus' parser: the legacy pool's families (pool="legacy") after a
// command the router sent to it, and the flag provider's per-flag rule
// errors of the document in force.
func TestAdminMetricsLegacyAndRuleErrors(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(f.cfg.Flags.File, []byte(flagsBrokenRule), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		m     *providers.Migration
		admin *app.Admin
	)
	fxa := fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(f.cfg)), fx.Populate(&m, &admin)).RequireStart()
	defer fxa.RequireStop()
	conn, err := m.Router.GetOrCreateConnection(f.server("web-1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := conn.ExecuteCommand("echo legacy"); err != nil || out != "legacy\n" {
		t.Fatalf("command: %q, %v", out, err)
	}
	if _, err := conn.ExecuteCommand("exit 3"); err == nil {
		t.Fatal("exit 3 succeeded")
	}

	code, body := get(t, "http://"+admin.Addr()+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	for _, c := range []struct {
		family  string
		labels  map[string]string
		want    float64
		atLeast bool // the router decides per call: at least one
	}{
		{"sshpool_flag_rule_errors_total", map[string]string{"flag": "use-new-pool"}, 1, false},
		{"sshpool_router_decisions_total", map[string]string{"pool": "legacy", "reason": "flag-off"}, 1, true},
		{"sshpool_router_decisions_total", map[string]string{"pool": "new", "reason": "flag-on"}, 0, false},
		{"sshpool_connections", map[string]string{"pool": "legacy", "state": "idle"}, 1, false},
		{"sshpool_in_use", map[string]string{"pool": "legacy"}, 0, false},
		{"sshpool_command_errors_total", map[string]string{"pool": "legacy"}, 1, false},
		{"sshpool_command_duration_seconds", map[string]string{"pool": "legacy"}, 2, false},
		{"sshpool_dial_duration_seconds", map[string]string{"pool": "legacy"}, 1, false},
		{"sshpool_command_duration_seconds", map[string]string{"pool": "new"}, 0, false},
	} {
		got, ok := sample(fams[c.family], c.labels)
		if !ok || got != c.want && !(c.atLeast && got > c.want) {
			t.Errorf("%s%v = %v (found %v), want %v", c.family, c.labels, got, ok, c.want)
		}
	}
}

// sample returns the value of f's series with exactly labels: a counter's
// or gauge's value, a histogram's sample count.
func sample(f *dto.MetricFamily, labels map[string]string) (float64, bool) {
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, lp := range m.GetLabel() {
			match = match && labels[lp.GetName()] == lp.GetValue()
		}
		if !match {
			continue
		}
		switch {
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		default:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
