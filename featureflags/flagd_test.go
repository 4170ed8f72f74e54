package featureflags_test

import (
	"context"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
)

// TestFlagdSemantics evaluates testdata/flagd-mixed.json, a document in
// which flags with deliberate mistakes (an unknown operator, a $ref to a
// missing evaluator, operations with wrong arguments, all-zero weights, a
// rule returning a name that is not a variant) sit among valid flags. flagd
// loads such a document; so do we, and every flag evaluates as flagd's
// documentation and its conformance scenarios (flagd-testbed, evaluator
// features, fractional v2 bucketing) say: the valid flags work, each broken
// one fails on its own.
func TestFlagdSemantics(t *testing.T) {
	p := newProvider(t, "testdata/flagd-mixed.json")
	const (
		match = openfeature.TargetingMatchReason
		dflt  = openfeature.DefaultReason
		stat  = openfeature.StaticReason
		errR  = openfeature.ErrorReason
	)
	user := func(name string) openfeature.FlattenedContext {
		return openfeature.FlattenedContext{"user": map[string]any{"name": name}}
	}
	tk := func(key string, attrs ...any) openfeature.FlattenedContext {
		c := openfeature.FlattenedContext{"targetingKey": key}
		for i := 0; i+1 < len(attrs); i += 2 {
			c[attrs[i].(string)] = attrs[i+1]
		}
		return c
	}
	attr := func(k string, v any) openfeature.FlattenedContext { return openfeature.FlattenedContext{k: v} }
	for _, tc := range []struct {
		name string
		flag string
		ctx  openfeature.FlattenedContext
		def  any
		want result
	}{
		// Fractional (flagd's v2 bucketing: (hash × total) >> 32).
		{"fractional jack", "fractional-flag", user("jack"), "fallback", result{"hearts", match, "hearts", ""}},
		{"fractional queen", "fractional-flag", user("queen"), "fallback", result{"spades", match, "spades", ""}},
		{"fractional ten", "fractional-flag", user("ten"), "fallback", result{"clubs", match, "clubs", ""}},
		{"fractional nine", "fractional-flag", user("nine"), "fallback", result{"diamonds", match, "diamonds", ""}},
		{"fractional 3", "fractional-flag", user("3"), "fallback", result{"clubs", match, "clubs", ""}},
		{"shorthand jon", "fractional-flag-shorthand", tk("jon@company.com"), "fallback", result{"heads", match, "heads", ""}},
		{"shorthand jane", "fractional-flag-shorthand", tk("jane@company.com"), "fallback", result{"tails", match, "tails", ""}},
		{"hash 0", "fractional-hash-edge-flag", tk("ejOoVL"), "fallback", result{"lower", match, "lower", ""}},
		{"hash 1", "fractional-hash-edge-flag", tk("bY9fO-"), "fallback", result{"lower", match, "lower", ""}},
		{"hash MaxInt32", "fractional-hash-edge-flag", tk("SI7p-"), "fallback", result{"lower", match, "lower", ""}},
		{"hash MinInt32", "fractional-hash-edge-flag", tk("6LvT0"), "fallback", result{"upper", match, "upper", ""}},
		{"hash MaxUint32", "fractional-hash-edge-flag", tk("ceQdGm"), "fallback", result{"upper", match, "upper", ""}},
		{"nested if, bucket 0, premium", "fractional-nested-if-flag", tk("jon@company.com", "tier", "premium"), "fallback", result{"premium", match, "premium", ""}},
		{"nested if, bucket 0, basic", "fractional-nested-if-flag", tk("jon@company.com", "tier", "basic"), "fallback", result{"standard", match, "standard", ""}},
		{"nested if, bucket 1", "fractional-nested-if-flag", tk("user1", "tier", "premium"), "fallback", result{"standard", match, "standard", ""}},
		{"nested var red", "fractional-nested-var-flag", tk("jon@company.com", "color", "red"), "fallback", result{"red", match, "red", ""}},
		{"nested var green", "fractional-nested-var-flag", tk("jon@company.com", "color", "green"), "fallback", result{"green", match, "green", ""}},
		{"nested var bucket 1", "fractional-nested-var-flag", tk("user1", "color", "red"), "fallback", result{"blue", match, "blue", ""}},
		{"nested var not a variant", "fractional-nested-var-flag", tk("jon@company.com", "color", "yellow"), "fallback", result{"fallback", errR, "", openfeature.GeneralCode}},
		{"nested weight premium", "fractional-nested-weight-flag", tk("jon@company.com", "tier", "premium"), "fallback", result{"red", match, "red", ""}},
		{"nested weight basic", "fractional-nested-weight-flag", tk("jon@company.com", "tier", "basic"), "fallback", result{"blue", match, "blue", ""}},
		{"nested weight premium user1", "fractional-nested-weight-flag", tk("user1", "tier", "premium"), "fallback", result{"red", match, "red", ""}},
		{"as condition", "fractional-as-condition-flag", tk("some-targeting-key"), "zero", result{"hundreds", match, "big", ""}},
		{"single entry, no targeting key", "fractional-single-entry-flag", nil, "x", result{"single", match, "single", ""}},
		{"all-zero weights", "fractional-zero-weights-flag", tk("any-user"), "wrong", result{"fallback", dflt, "fallback", ""}},
		{"negative weight is 0", "fractional-negative-weight-flag", tk("any-user"), "wrong", result{"two", match, "two", ""}},
		{"missing bucket key", "fractional-null-bucket-key-flag", nil, "wrong", result{"fallback", dflt, "fallback", ""}},

		// starts_with / ends_with.
		{"prefix", "starts-ends-flag", attr("id", "abcdef"), "fallback", result{"prefix", match, "prefix", ""}},
		{"postfix", "starts-ends-flag", attr("id", "uvwxyz"), "fallback", result{"postfix", match, "postfix", ""}},
		{"both", "starts-ends-flag", attr("id", "abcxyz"), "fallback", result{"prefix", match, "prefix", ""}},
		{"neither", "starts-ends-flag", attr("id", "lmnopq"), "fallback", result{"none", match, "none", ""}},
		{"non-string input", "starts-with-non-string-flag", attr("num", 123), "wrong", result{"fallback", dflt, "fallback", ""}},
		{"starts_with wrong args", "starts-with-wrong-args-flag", nil, "wrong", result{"fallback", dflt, "fallback", ""}},
		{"ends_with wrong args", "ends-with-wrong-args-flag", nil, "wrong", result{"fallback", dflt, "fallback", ""}},

		// sem_ver.
		{"semver equal", "equal-greater-lesser-version-flag", attr("version", "2.0.0"), "fallback", result{"equal", match, "equal", ""}},
		{"semver greater", "equal-greater-lesser-version-flag", attr("version", "2.1.0"), "fallback", result{"greater", match, "greater", ""}},
		{"semver lesser", "equal-greater-lesser-version-flag", attr("version", "1.9.0"), "fallback", result{"lesser", match, "lesser", ""}},
		{"semver pre-release", "equal-greater-lesser-version-flag", attr("version", "2.0.0-alpha"), "fallback", result{"lesser", match, "lesser", ""}},
		{"semver four parts", "equal-greater-lesser-version-flag", attr("version", "2.0.0.0"), "fallback", result{"none", dflt, "none", ""}},
		{"semver ~", "major-minor-version-flag", attr("version", "3.0.1"), "fallback", result{"minor", match, "minor", ""}},
		{"semver ^", "major-minor-version-flag", attr("version", "3.1.0"), "fallback", result{"major", match, "major", ""}},
		{"semver neither", "major-minor-version-flag", attr("version", "4.0.0"), "fallback", result{"none", match, "none", ""}},
		{"v prefix", "semver-v-prefix-flag", attr("version", "v1.0.0"), "fallback", result{"match", match, "match", ""}},
		{"V prefix", "semver-v-prefix-flag", attr("version", "V1.0.0"), "fallback", result{"match", match, "match", ""}},
		{"no prefix", "semver-v-prefix-flag", attr("version", "1.0.0"), "fallback", result{"match", match, "match", ""}},
		{"partial 1.0", "semver-partial-version-flag", attr("version", "1.0"), "fallback", result{"match", match, "match", ""}},
		{"partial 1", "semver-partial-version-flag", attr("version", "1"), "fallback", result{"match", match, "match", ""}},
		{"integer 1", "semver-partial-version-flag", attr("version", 1), "fallback", result{"match", match, "match", ""}},
		{"float 1.5", "semver-partial-version-flag", attr("version", 1.5), "fallback", result{"match", match, "match", ""}},
		{"integer 2", "semver-partial-version-flag", attr("version", int64(2)), "fallback", result{"no-match", match, "no-match", ""}},
		{"build metadata ignored", "semver-build-metadata-flag", attr("version", "1.0.0+other"), "fallback", result{"match", match, "match", ""}},
		{"not a version", "equal-greater-lesser-version-flag", attr("version", "not-a-version"), "fallback", result{"none", dflt, "none", ""}},
		{"unknown comparison", "semver-invalid-operator-flag", attr("version", "1.0.0"), "wrong", result{"fallback", dflt, "fallback", ""}},
		{"sem_ver wrong args", "semver-wrong-args-flag", attr("version", "1.0.0"), "wrong", result{"fallback", dflt, "fallback", ""}},

		// $ref, targeting results, errors.
		{"ref match", "ref-flag", attr("email", "ballmer@macrosoft.com"), "fallback", result{"hi", match, "hi", ""}},
		{"ref no match", "ref-flag", attr("email", "user@example.com"), "fallback", result{"bye", match, "bye", ""}},
		{"ref to a missing evaluator", "ref-to-nonexistent-evaluator-flag", nil, "fallback", result{"fallback", errR, "", openfeature.ParseErrorCode}},
		{"targeting key hit", "targeting-key-flag", tk("5c3d8535-f81a-4478-a6d3-afaa4d51199e"), "fallback", result{"hit", match, "hit", ""}},
		{"targeting key miss", "targeting-key-flag", tk("f20bd32d-703b-48b6-bc8e-79d53c85134a"), "fallback", result{"miss", dflt, "miss", ""}},
		{"null result", "targeting-null-variant-flag", nil, int64(3), result{int64(2), dflt, "two", ""}},
		{"unknown operator", "error-targeting-flag", nil, int64(3), result{int64(3), errR, "", openfeature.ParseErrorCode}},
		{"not a variant", "missing-variant-targeting-flag", nil, int64(3), result{int64(3), errR, "", openfeature.GeneralCode}},
		{"boolean result names a variant", "non-string-variant-targeting-flag", nil, int64(3), result{int64(2), match, "true", ""}},
		{"empty targeting", "empty-targeting-flag", nil, int64(3), result{int64(1), stat, "false", ""}},
		{"number result names a variant", "number-result-flag", attr("half", true), "x", result{"two and a half", match, "2.5", ""}},
		{"number result 1", "number-result-flag", attr("half", false), "x", result{"one", match, "1", ""}},
		{"literal targeting", "literal-targeting-flag", nil, "x", result{"B", match, "b", ""}},

		// The router's flags, in the same document, keep working.
		{"kill switch", "kill-switch", nil, true, result{false, stat, "off", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := evaluate(p, tc.flag, tc.def, tc.ctx); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	d := p.BooleanEvaluation(context.Background(), featureflags.FlagUseNewPool, true, openfeature.FlattenedContext{"targetingKey": "srv-1"})
	if d.Reason != match || d.Error() != nil {
		t.Errorf("use-new-pool beside broken flags: %+v", d)
	}
}

// TestFlagdMixedLint: the linter finds each deliberate mistake of the mixed
// document, as a warning, and no structural problem.
func TestFlagdMixedLint(t *testing.T) {
	data := readTestdata(t, "flagd-mixed.json")
	r := featureflags.Lint("flagd-mixed.json", data)
	if r.Refused() {
		t.Fatalf("refused: %+v", r.Problems)
	}
	want := map[string]string{
		"fractional-zero-weights-flag":      "every fractional weight is 0",
		"starts-with-wrong-args-flag":       "starts_with takes 2 arguments, got 1",
		"ends-with-wrong-args-flag":         "ends_with takes 2 arguments, got 1",
		"semver-invalid-operator-flag":      `unknown comparison "==="`,
		"semver-wrong-args-flag":            "sem_ver takes 3 arguments",
		"ref-to-nonexistent-evaluator-flag": `missing evaluator "nonexistent_evaluator"`,
		"error-targeting-flag":              `unknown operator "invalid"`,
		"missing-variant-targeting-flag":    `returns "three", which is not a variant`,
	}
	for _, p := range r.Problems {
		if msg, ok := want[p.Flag]; ok && p.Kind == featureflags.RuleError && contains(p.Message, msg) {
			delete(want, p.Flag)
		}
	}
	for flag, msg := range want {
		t.Errorf("no rule warning for %s mentioning %q", flag, msg)
	}
}
