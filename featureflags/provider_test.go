package featureflags_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
)

func newProvider(t testing.TB, path string, opts ...featureflags.FileProviderOption) *featureflags.FileProvider {
	t.Helper()
	opts = append([]featureflags.FileProviderOption{featureflags.WithClock(func() time.Time { return fixedNow })}, opts...)
	p, err := featureflags.NewFileProvider(path, opts...)
	if err != nil {
		t.Fatalf("NewFileProvider(%s): %v", path, err)
	}
	return p
}

// result is what a test expects from one evaluation.
type result struct {
	value   any
	reason  openfeature.Reason
	variant string
	code    openfeature.ErrorCode
}

// evaluate calls the provider method for the type of def.
func evaluate(p *featureflags.FileProvider, flag string, def any, ctx openfeature.FlattenedContext) result {
	bg := context.Background()
	var (
		v any
		d openfeature.ProviderResolutionDetail
	)
	switch dv := def.(type) {
	case bool:
		r := p.BooleanEvaluation(bg, flag, dv, ctx)
		v, d = r.Value, r.ProviderResolutionDetail
	case string:
		r := p.StringEvaluation(bg, flag, dv, ctx)
		v, d = r.Value, r.ProviderResolutionDetail
	case float64:
		r := p.FloatEvaluation(bg, flag, dv, ctx)
		v, d = r.Value, r.ProviderResolutionDetail
	case int64:
		r := p.IntEvaluation(bg, flag, dv, ctx)
		v, d = r.Value, r.ProviderResolutionDetail
	default:
		r := p.ObjectEvaluation(bg, flag, dv, ctx)
		v, d = r.Value, r.ProviderResolutionDetail
	}
	return result{value: v, reason: d.Reason, variant: d.Variant, code: d.ResolutionDetail().ErrorCode}
}

func TestProviderResolutions(t *testing.T) {
	p := newProvider(t, "testdata/flags.json")
	srv := func(attrs map[string]any) openfeature.FlattenedContext {
		c := openfeature.FlattenedContext{"targetingKey": "srv-1", "host": "web1.dev.example.com", "port": 22, "user": "deploy", "asRoot": false}
		for k, v := range attrs {
			c[k] = v
		}
		return c
	}
	const (
		static   = openfeature.StaticReason
		match    = openfeature.TargetingMatchReason
		dflt     = openfeature.DefaultReason
		disabled = openfeature.DisabledReason
		errR     = openfeature.ErrorReason
	)
	for _, tc := range []struct {
		name string
		flag string
		def  any
		ctx  openfeature.FlattenedContext
		want result
	}{
		{"static bool", "kill-switch", true, nil, result{false, static, "off", ""}},
		{"static string", "ratio", 0.5, nil, result{0.75, static, "high", ""}},
		{"empty targeting is static", "greeting", "x", nil, result{"hello", static, "hi", ""}},
		{"ref match", "prod-only", false, srv(map[string]any{"host": "db.prod.example.com"}), result{true, match, "on", ""}},
		{"ref null is default", "prod-only", true, srv(nil), result{false, dflt, "off", ""}},
		{"targeting true", "root-user", false, srv(map[string]any{"user": "root"}), result{true, match, "true", ""}},
		{"targeting false", "root-user", true, srv(nil), result{false, match, "false", ""}},
		{"disabled", "disabled-flag", false, nil, result{false, disabled, "", ""}},
		{"disabled keeps caller default", "disabled-flag", true, nil, result{true, disabled, "", ""}},
		{"null default, targeting null", "no-default", "dflt", srv(nil), result{"dflt", dflt, "", ""}},
		{"null default, targeting match", "no-default", "dflt", srv(map[string]any{"asRoot": true}), result{"A", match, "a", ""}},
		{"absent default, no targeting", "no-default-static", "dflt", nil, result{"dflt", dflt, "", ""}},
		{"int", "max-sessions", int64(1), srv(map[string]any{"size": "big"}), result{int64(10), match, "big", ""}},
		{"float of int variant", "max-sessions", 1.0, nil, result{4.0, dflt, "small", ""}},
		{"int of fraction", "max-sessions", int64(1), srv(map[string]any{"serverName": "odd"}), result{int64(1), errR, "", openfeature.TypeMismatchCode}},
		{"object", "pool-config", map[string]any{}, nil, result{map[string]any{"size": 4.0, "tags": []any{"x", "y"}}, static, "a", ""}},
		{"sem_ver match", "version-gate", "", srv(map[string]any{"version": "v2.3.0"}), result{"new", match, "new", ""}},
		{"sem_ver no match", "version-gate", "", srv(map[string]any{"version": "2.0.9"}), result{"old", match, "old", ""}},
		{"sem_ver invalid is the default", "version-gate", "", srv(map[string]any{"version": "two"}), result{"old", dflt, "old", ""}},
		{"not found", "nope", true, nil, result{true, errR, "", openfeature.FlagNotFoundCode}},
		{"bool as string", "kill-switch", "x", nil, result{"x", errR, "", openfeature.TypeMismatchCode}},
		{"string as bool", "greeting", true, nil, result{true, errR, "", openfeature.TypeMismatchCode}},
		{"bool as object", "kill-switch", "obj", nil, result{"obj", errR, "", openfeature.TypeMismatchCode}},
		{"targeting not a variant", "bad-target", true, srv(map[string]any{"asRoot": true}), result{true, errR, "", openfeature.GeneralCode}},
		{"targeting a number", "bad-target", true, srv(nil), result{true, errR, "", openfeature.GeneralCode}},
		{"library panic recovered", "panicky", true, srv(nil), result{true, errR, "", openfeature.ParseErrorCode}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := evaluate(p, tc.flag, tc.def, tc.ctx); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestProviderMetadata(t *testing.T) {
	p := newProvider(t, "testdata/flags.json")
	d := p.BooleanEvaluation(context.Background(), "use-new-pool", false, openfeature.FlattenedContext{"targetingKey": "srv-1"})
	want := openfeature.FlagMetadata{"flagSetId": "sshpool", "version": int64(3), "team": "pool", "owner": "pool-team"}
	if !reflect.DeepEqual(d.FlagMetadata, want) {
		t.Errorf("metadata %v, want %v", d.FlagMetadata, want)
	}
	if v, err := d.FlagMetadata.GetInt("version"); err != nil || v != 3 {
		t.Errorf("GetInt(version) = %d, %v", v, err)
	}
	if got := p.Metadata().Name; got != featureflags.ProviderName {
		t.Errorf("name %q", got)
	}
	if p.Hooks() != nil {
		t.Error("provider hooks")
	}
}

func TestProviderObjectIsCopy(t *testing.T) {
	p := newProvider(t, "testdata/flags.json")
	v := p.ObjectEvaluation(context.Background(), "pool-config", nil, nil).Value.(map[string]any)
	v["size"] = 99.0
	v["tags"].([]any)[0] = "mutated"
	again := p.ObjectEvaluation(context.Background(), "pool-config", nil, nil).Value.(map[string]any)
	if again["size"] != 4.0 || again["tags"].([]any)[0] != "x" {
		t.Errorf("flag value was modified through a result: %v", again)
	}
}

func TestProviderFractionalSticky(t *testing.T) {
	p := newProvider(t, "testdata/flags.json")
	on := 0
	for _, key := range serverKeys(1000) {
		ctx := openfeature.FlattenedContext{"targetingKey": key}
		d := p.BooleanEvaluation(context.Background(), "use-new-pool", false, ctx)
		if d.Reason != openfeature.TargetingMatchReason {
			t.Fatalf("reason %s", d.Reason)
		}
		want := refFractional("use-new-pool"+key, []refEntry{{"on", 30}, {"off", 70}}) == "on"
		if d.Value != want {
			t.Fatalf("%s: %v, want %v", key, d.Value, want)
		}
		if d.Value {
			on++
		}
	}
	if on < 260 || on > 340 {
		t.Errorf("%d of 1000 on at 30%%", on)
	}
	// Without a targeting key fractional is null: the default variant.
	d := p.BooleanEvaluation(context.Background(), "use-new-pool", true, nil)
	if d.Value || d.Reason != openfeature.DefaultReason || d.Variant != "off" {
		t.Errorf("no targeting key: %+v", d)
	}
}

func TestProviderYAML(t *testing.T) {
	p := newProvider(t, "testdata/flags.yaml")
	if got := p.Flags(); !reflect.DeepEqual(got, []string{"greeting", "kill-switch", "use-new-pool"}) {
		t.Fatalf("flags %v", got)
	}
	ks := evaluate(p, "kill-switch", true, nil)
	if ks != (result{false, openfeature.StaticReason, "false", ""}) {
		t.Errorf("kill-switch %+v", ks)
	}
	allowed := evaluate(p, "use-new-pool", false, openfeature.FlattenedContext{"targetingKey": "srv-2"})
	if allowed != (result{true, openfeature.TargetingMatchReason, "on", ""}) {
		t.Errorf("allow-listed %+v", allowed)
	}
	key := "srv-77"
	want := refFractional("use-new-pool"+key, []refEntry{{"on", 10}, {"off", 90}}) == "on"
	if got := evaluate(p, "use-new-pool", false, openfeature.FlattenedContext{"targetingKey": key}); got.value != want {
		t.Errorf("fractional %+v, want %v", got, want)
	}
	d := p.StringEvaluation(context.Background(), "greeting", "", nil)
	if d.FlagMetadata["owner"] != "infra" || d.FlagMetadata["flagSetId"] != "sshpool" {
		t.Errorf("yaml metadata %v", d.FlagMetadata)
	}
}

func TestNewFileProviderErrors(t *testing.T) {
	if _, err := featureflags.NewFileProvider(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := writeFile(t, t.TempDir(), "bad.json", `{"flags": {"x": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"}}}`)
	if _, err := featureflags.NewFileProvider(bad); !errors.Is(err, featureflags.ErrInvalidFlagFile) {
		t.Errorf("invalid file: %v", err)
	}
}

func TestKillSwitchEnv(t *testing.T) {
	env := map[string]string{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p := newProvider(t, "testdata/flags.json",
		featureflags.WithKillSwitchEnv(featureflags.DefaultKillSwitchEnv), featureflags.WithLookupEnv(lookup))
	for _, tc := range []struct {
		env  *string
		want result
	}{
		{nil, result{false, openfeature.StaticReason, "off", ""}},
		{ptr("true"), result{true, openfeature.StaticReason, "env", ""}},
		{ptr("1"), result{true, openfeature.StaticReason, "env", ""}},
		{ptr("FALSE"), result{false, openfeature.StaticReason, "env", ""}},
		{ptr("maybe"), result{false, openfeature.StaticReason, "off", ""}},
		{ptr(""), result{false, openfeature.StaticReason, "off", ""}},
	} {
		clear(env)
		if tc.env != nil {
			env[featureflags.DefaultKillSwitchEnv] = *tc.env
		}
		if got := evaluate(p, featureflags.FlagKillSwitch, true, nil); got != tc.want {
			t.Errorf("env %v: got %+v, want %+v", env, got, tc.want)
		}
	}
	env[featureflags.DefaultKillSwitchEnv] = "true"
	if got := evaluate(p, featureflags.FlagKillSwitch, "s", nil); got.code != openfeature.TypeMismatchCode {
		t.Errorf("string evaluation of overridden kill switch: %+v", got)
	}
	if got := evaluate(p, "root-user", false, nil); got.variant == "env" {
		t.Errorf("override leaked to another flag: %+v", got)
	}
}

func TestKillSwitchEnvWithoutFlagInFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "f.json", `{"flags": {}}`)
	t.Setenv("SSHPOOL_TEST_KILL", "on")
	p := newProvider(t, path, featureflags.WithKillSwitchEnv("SSHPOOL_TEST_KILL"))
	if got := evaluate(p, featureflags.FlagKillSwitch, false, nil); got.code != openfeature.FlagNotFoundCode {
		t.Errorf("non-boolean env: %+v", got)
	}
	t.Setenv("SSHPOOL_TEST_KILL", "true")
	if got := evaluate(p, featureflags.FlagKillSwitch, false, nil); got != (result{true, openfeature.StaticReason, "env", ""}) {
		t.Errorf("env true: %+v", got)
	}
}

func ptr[T any](v T) *T { return &v }

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFractionalFastPathMatchesJSONLogic checks the literal-fractional fast
// path against the same split evaluated by JSONLogic (wrapped in an if).
func TestFractionalFastPathMatchesJSONLogic(t *testing.T) {
	const split = `{"fractional": [["a", 5], ["b", 20], ["c", 75]]}`
	file := func(targeting string) string {
		return `{"flags": {"use-new-pool": {"state": "ENABLED", "variants": {"a": "A", "b": "B", "c": "C"}, "defaultVariant": "a", "targeting": ` + targeting + `}}}`
	}
	dir := t.TempDir()
	fast := newProvider(t, writeFile(t, dir, "fast.json", file(split)))
	slow := newProvider(t, writeFile(t, dir, "slow.json", file(`{"if": [true, `+split+`, null]}`)))
	for _, key := range append(serverKeys(1000), "") {
		ctx := openfeature.FlattenedContext{"host": "h"}
		if key != "" {
			ctx["targetingKey"] = key
		}
		a, b := evaluate(fast, "use-new-pool", "", ctx), evaluate(slow, "use-new-pool", "", ctx)
		if a != b {
			t.Fatalf("key %q: fast path %+v, JSONLogic %+v", key, a, b)
		}
	}
}

func TestContextValueTypes(t *testing.T) {
	type custom struct{ A int }
	ctx := map[string]any{
		"targetingKey": "k",
		"i64":          int64(7),
		"u8":           uint8(8),
		"f32":          float32(1.5),
		"when":         time.Unix(1000, 0),
		"list":         []string{"a", "b"},
		"labels":       map[string]any{"count": int32(3), "tags": []any{uint16(4), "x"}},
		"custom":       custom{A: 1},
	}
	for rule, want := range map[string]any{
		`{"==": [{"var": "i64"}, 7]}`:                           true,
		`{"+": [{"var": "u8"}, {"var": "f32"}]}`:                9.5,
		`{"var": "when"}`:                                       1000.0,
		`{"<": [{"var": "when"}, {"var": "$flagd.timestamp"}]}`: true,
		`{"in": ["b", {"var": "list"}]}`:                        true,
		`{"var": "labels.count"}`:                               3.0,
		`{"var": "labels.tags.0"}`:                              4.0,
		`{"var": "missing.deep"}`:                               nil,
		`{"var": ["missing", "fallback"]}`:                      "fallback",
	} {
		if got := evalRule(t, rule, "f", ctx); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", rule, got, want)
		}
	}
	// A value JSONLogic cannot read makes the rule fail, not panic.
	if _, err := featureflags.EvalRule(`{"cat": [{"var": "custom"}]}`, "f", ctx, fixedNow); err == nil {
		t.Error("cat of a struct succeeded")
	}
}

func TestMetadataAndYAMLKeys(t *testing.T) {
	path := writeFile(t, t.TempDir(), "f.yaml", `
metadata: {ratio: 0.5, big: 1e300, on: true, name: set}
flags:
  f:
    state: ENABLED
    variants: {1: one, 2: two}
    defaultVariant: "2"
    metadata: {name: flag}
`)
	p := newProvider(t, path)
	d := p.StringEvaluation(context.Background(), "f", "", nil)
	if d.Value != "two" || d.Variant != "2" {
		t.Errorf("resolution %+v", d)
	}
	want := openfeature.FlagMetadata{"ratio": 0.5, "big": 1e300, "on": true, "name": "flag"}
	if !reflect.DeepEqual(d.FlagMetadata, want) {
		t.Errorf("metadata %#v, want %#v", d.FlagMetadata, want)
	}
	if p.Path() != path {
		t.Errorf("Path %q", p.Path())
	}
}

func TestErrorsForEveryType(t *testing.T) {
	p := newProvider(t, "testdata/flags.json")
	for _, def := range []any{true, "s", 1.5, int64(3), map[string]any{"d": 1}} {
		got := evaluate(p, "missing", def, nil)
		if !reflect.DeepEqual(got, result{def, openfeature.ErrorReason, "", openfeature.FlagNotFoundCode}) {
			t.Errorf("%T: %+v", def, got)
		}
	}
	for flag, def := range map[string]any{"greeting": 1.5, "ratio": int64(1), "kill-switch": map[string]any{}} {
		if got := evaluate(p, flag, def, nil); got.code != openfeature.TypeMismatchCode || !reflect.DeepEqual(got.value, def) {
			t.Errorf("%s as %T: %+v", flag, def, got)
		}
	}
}
