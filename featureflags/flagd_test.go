package featureflags_test

import (
	"context"
	"reflect"
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

// TestFlagdEdgeCases evaluates testdata/flagd-edge.json, the rest of flagd's
// conformance scenarios (flagd-testbed: evaluation, errors, zero values, no
// default variant, disabled, precision, evaluator refs, fractional with a
// shared seed and as a false condition, sem_ver on numbers, time, and the
// custom-ops flags whose branches that are not taken hold operations that
// cannot use their input): each flag gives the value, reason and error code
// the scenarios expect.
func TestFlagdEdgeCases(t *testing.T) {
	p := newProvider(t, "testdata/flagd-edge.json")
	const (
		match    = openfeature.TargetingMatchReason
		dflt     = openfeature.DefaultReason
		stat     = openfeature.StaticReason
		disabled = openfeature.DisabledReason
		errR     = openfeature.ErrorReason
		mismatch = openfeature.TypeMismatchCode
	)
	ctx := func(kv ...any) openfeature.FlattenedContext {
		c := openfeature.FlattenedContext{}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	user := func(name string) openfeature.FlattenedContext { return ctx("user", map[string]any{"name": name}) }
	ballmer := ctx("email", "ballmer@macrosoft.com")
	template := map[string]any{"showImages": true, "title": "Check out these pics!", "imagesPerPage": 100.0}
	for _, tc := range []struct {
		flag string
		ctx  openfeature.FlattenedContext
		def  any
		want result
	}{
		// Evaluation of every type, and zero values.
		{"boolean-flag", nil, false, result{true, stat, "on", ""}},
		{"string-flag", nil, "bye", result{"hi", stat, "greeting", ""}},
		{"integer-flag", nil, int64(1), result{int64(10), stat, "ten", ""}},
		{"float-flag", nil, 0.1, result{0.5, stat, "half", ""}},
		{"object-flag", nil, map[string]any{}, result{template, stat, "template", ""}},
		{"boolean-zero-flag", nil, true, result{false, stat, "zero", ""}},
		{"string-zero-flag", nil, "x", result{"", stat, "zero", ""}},
		{"integer-zero-flag", nil, int64(1), result{int64(0), stat, "zero", ""}},
		{"float-zero-flag", nil, 0.1, result{0.0, stat, "zero", ""}},
		{"object-zero-flag", nil, map[string]any{"x": 1}, result{map[string]any{}, stat, "zero", ""}},
		{"boolean-targeted-zero-flag", ballmer, true, result{false, match, "zero", ""}},
		{"string-targeted-zero-flag", ballmer, "x", result{"", match, "zero", ""}},
		{"integer-targeted-zero-flag", ballmer, int64(1), result{int64(0), match, "zero", ""}},
		{"float-targeted-zero-flag", ballmer, 0.1, result{0.0, match, "zero", ""}},
		{"boolean-targeted-zero-flag", ctx("email", "x@example.com"), true, result{false, dflt, "zero", ""}},

		// Errors: not found, and each type asked as another.
		{"missing-flag", nil, "uh-oh", result{"uh-oh", errR, "", openfeature.FlagNotFoundCode}},
		{"wrong-flag", nil, int64(13), result{int64(13), errR, "", mismatch}},
		{"boolean-flag", nil, "fallback", result{"fallback", errR, "", mismatch}},
		{"boolean-flag", nil, int64(1), result{int64(1), errR, "", mismatch}},
		{"boolean-flag", nil, 0.1, result{0.1, errR, "", mismatch}},
		{"string-flag", nil, false, result{false, errR, "", mismatch}},
		{"string-flag", nil, int64(1), result{int64(1), errR, "", mismatch}},
		{"string-flag", nil, 0.1, result{0.1, errR, "", mismatch}},
		{"integer-flag", nil, false, result{false, errR, "", mismatch}},
		{"integer-flag", nil, "fallback", result{"fallback", errR, "", mismatch}},
		{"float-flag", nil, false, result{false, errR, "", mismatch}},
		{"float-flag", nil, "fallback", result{"fallback", errR, "", mismatch}},

		// No default variant: the caller's default, reason DEFAULT.
		{"null-default-flag", nil, true, result{true, dflt, "", ""}},
		{"null-default-flag", nil, false, result{false, dflt, "", ""}},
		{"undefined-default-flag", nil, int64(100), result{int64(100), dflt, "", ""}},
		{"no-default-flag-null-targeting-variant", ctx("email", "wozniak@orange.com"), "Inventor", result{"Inventor", dflt, "", ""}},
		{"no-default-flag-null-targeting-variant", ctx("email", "jobs@orange.com"), "CEO", result{"CEO", match, "special", ""}},
		{"no-default-flag-undefined-targeting-variant", ctx("email", "wozniak@orange.com"), "Retired", result{"Retired", dflt, "", ""}},

		// Disabled: the caller's default, reason DISABLED, no variant.
		{"disabled-boolean-flag", nil, false, result{false, disabled, "", ""}},
		{"disabled-object-flag", nil, map[string]any{}, result{map[string]any{}, disabled, "", ""}},

		// Numbers keep their precision.
		{"large-integer-flag", nil, int64(1), result{int64(2147483647), stat, "v", ""}},
		{"integral-float-flag", nil, 0.1, result{10.0, stat, "v", ""}},
		{"huge-integer-flag", nil, int64(1), result{int64(9007199254740991), stat, "v", ""}},

		// $ref, with any spacing.
		{"some-email-targeted-flag", ballmer, "fallback", result{"hi", match, "hi", ""}},
		{"ref-whitespace-space-around-colon-flag", ballmer, "fallback", result{"hi", match, "hi", ""}},
		{"ref-whitespace-space-around-colon-flag", ctx("email", "user@example.com"), "fallback", result{"bye", match, "bye", ""}},

		// fractional: a shared seed buckets two flags alike (v2 bucketing).
		{"fractional-flag-A-shared-seed", user("seven"), "fallback", result{"hearts", match, "hearts", ""}},
		{"fractional-flag-A-shared-seed", user("eight"), "fallback", result{"diamonds", match, "diamonds", ""}},
		{"fractional-flag-A-shared-seed", user("nine"), "fallback", result{"clubs", match, "clubs", ""}},
		{"fractional-flag-A-shared-seed", user("two"), "fallback", result{"spades", match, "spades", ""}},
		{"fractional-flag-B-shared-seed", user("seven"), "fallback", result{"ace-of-hearts", match, "hearts", ""}},
		{"fractional-flag-B-shared-seed", user("eight"), "fallback", result{"ace-of-diamonds", match, "diamonds", ""}},
		{"fractional-flag-B-shared-seed", user("nine"), "fallback", result{"ace-of-clubs", match, "clubs", ""}},
		{"fractional-flag-B-shared-seed", user("two"), "fallback", result{"ace-of-spades", match, "spades", ""}},
		{"fractional-as-condition-false-flag", ctx("targetingKey", "some-targeting-key"), "zero", result{"ones", match, "small", ""}},

		// Operations that cannot use their input only matter where they are
		// evaluated: a branch that is not taken does not make the rule null.
		{"starts-ends-flag", ctx("id", "abcdef"), "fallback", result{"prefix", match, "prefix", ""}},
		{"starts-ends-flag", ctx("id", "uvwxyz"), "fallback", result{"postfix", match, "postfix", ""}},
		{"starts-ends-flag", ctx("id", "abcxyz"), "fallback", result{"prefix", match, "prefix", ""}},
		{"starts-ends-flag", ctx("id", "lmnopq"), "fallback", result{"none", dflt, "none", ""}},
		{"starts-ends-flag", ctx("id", "3"), "fallback", result{"none", dflt, "none", ""}},
		{"equal-greater-lesser-version-flag", ctx("version", "2.0.0"), "fallback", result{"equal", match, "equal", ""}},
		{"equal-greater-lesser-version-flag", ctx("version", "2.1.0"), "fallback", result{"greater", match, "greater", ""}},
		{"equal-greater-lesser-version-flag", ctx("version", "1.9.0"), "fallback", result{"lesser", match, "lesser", ""}},
		{"equal-greater-lesser-version-flag", ctx("version", "2.0.0-alpha"), "fallback", result{"lesser", match, "lesser", ""}},
		{"equal-greater-lesser-version-flag", ctx("version", "2.0.0.0"), "fallback", result{"none", dflt, "none", ""}},
		{"ends-with-non-string-flag", ctx("num", int64(123)), "wrong", result{"fallback", dflt, "fallback", ""}},
		{"semver-invalid-version-flag", ctx("version", "not-a-version"), "wrong", result{"fallback", dflt, "fallback", ""}},

		// sem_ver coerces numbers and partial versions.
		{"semver-partial-version-flag", ctx("version", 1.0), "fallback", result{"match", match, "match", ""}},
		{"semver-partial-version-flag", ctx("version", 1.2), "fallback", result{"match", match, "match", ""}},
		{"semver-partial-version-flag", ctx("version", int64(1)), "fallback", result{"match", match, "match", ""}},
		{"semver-partial-version-flag", ctx("version", "1.0"), "fallback", result{"match", match, "match", ""}},
		{"semver-numeric-context-flag", ctx("version", 1.2), "fallback", result{"match", match, "match", ""}},
		{"semver-numeric-context-flag", ctx("version", 1.1), "fallback", result{"no-match", match, "no-match", ""}},
		{"semver-numeric-context-flag", ctx("version", int64(2)), "fallback", result{"match", match, "match", ""}},
		{"semver-numeric-context-flag", ctx("version", int64(1)), "fallback", result{"no-match", match, "no-match", ""}},
		{"semver-numeric-context-flag", ctx("version", "1.2"), "fallback", result{"match", match, "match", ""}},

		// $flagd.timestamp (the test clock is 2025-11-26).
		{"timestamp-flag", ctx("time", int64(1)), int64(0), result{int64(-1), match, "past", ""}},
		{"timestamp-flag", ctx("time", int64(4133980802)), int64(0), result{int64(1), match, "future", ""}},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			if got := evaluate(p, tc.flag, tc.def, tc.ctx); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%v: got %+v, want %+v", tc.ctx, got, tc.want)
			}
		})
	}
	d := p.BooleanEvaluation(context.Background(), "metadata-flag", false, nil)
	want := openfeature.FlagMetadata{"string": "1.0.2", "integer": int64(2), "boolean": true, "float": 0.1}
	if !reflect.DeepEqual(d.FlagMetadata, want) {
		t.Errorf("metadata %#v, want %#v", d.FlagMetadata, want)
	}
}
