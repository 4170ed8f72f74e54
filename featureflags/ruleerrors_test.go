package featureflags_test

import (
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/capture"
)

// routerFile is a document with the router's two flags; useNewPool is the
// targeting of use-new-pool and killSwitch the default of kill-switch.
func routerFile(killSwitch, useNewPool string) string {
	return `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "` + killSwitch + `"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": ` + useNewPool + `}}}`
}

// TestReloadIntoErroringRule: a reload that turns use-new-pool's rule into
// one with errors loads (as flagd would), is logged and counted for that
// flag, and routes to the default variant, the legacy side; the kill switch
// keeps working, and fixing the rule clears it.
func TestReloadIntoErroringRule(t *testing.T) {
	var logs capture.Buffer
	dir := t.TempDir()
	path := writeFile(t, dir, "flags.json", routerFile("off", `{"fractional": [["on", 100], ["off", 0]]}`))
	p := newProvider(t, path, featureflags.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	srv := openfeature.FlattenedContext{"targetingKey": "srv-1", "host": "web1"}
	if got := evaluate(p, featureflags.FlagUseNewPool, false, srv); got != (result{true, openfeature.TargetingMatchReason, "on", ""}) {
		t.Fatalf("before: %+v", got)
	}

	broken := `{"if": [{"starts_with": [{"var": "host"}]}, "on", "off"]}`
	writeFile(t, dir, "flags.json", routerFile("off", broken))
	must(t, p.Reload())
	expectEvent(t, p, openfeature.ProviderConfigChange)
	if got := evaluate(p, featureflags.FlagUseNewPool, true, srv); got != (result{false, openfeature.DefaultReason, "off", ""}) {
		t.Errorf("erroring rule: %+v, want the default variant off (DEFAULT)", got)
	}
	st := p.Stats()
	if !reflect.DeepEqual(st.RuleErrors, map[string]int64{"use-new-pool": 1}) ||
		!reflect.DeepEqual(st.FlagsWithRuleErrors, []string{"use-new-pool"}) || st.ReloadErrors != 0 {
		t.Errorf("stats %+v", st)
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "flag=use-new-pool") ||
		!strings.Contains(out, "starts_with takes 2 arguments") {
		t.Errorf("no warning naming the flag and the error:\n%s", out)
	}

	// Another change that leaves the broken rule as it is: not counted again;
	// the kill switch still takes effect.
	writeFile(t, dir, "flags.json", routerFile("on", broken))
	must(t, p.Reload())
	if !killSwitch(p) {
		t.Error("kill switch not applied beside a broken rule")
	}
	if n := p.Stats().RuleErrors["use-new-pool"]; n != 1 {
		t.Errorf("unchanged broken rule counted again: %d", n)
	}

	// Fixed.
	writeFile(t, filepath.Dir(path), "flags.json", routerFile("off", `{"fractional": [["on", 100], ["off", 0]]}`))
	must(t, p.Reload())
	if st := p.Stats(); st.FlagsWithRuleErrors != nil || st.RuleErrors["use-new-pool"] != 1 {
		t.Errorf("after the fix: %+v", st)
	}
	if got := evaluate(p, featureflags.FlagUseNewPool, false, srv); got.value != true {
		t.Errorf("after the fix: %+v", got)
	}
}
