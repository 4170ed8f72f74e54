package featureflags_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sshpool/sshpool/featureflags"
)

// flagJSON wraps one flag definition into a file.
func flagJSON(def string) string { return `{"flags": {"f": ` + def + `}}` }

const boolVariants = `"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"`

func TestValidateFlagFileValid(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
	}{
		{"minimal", "f.json", `{"flags": {}}`},
		{"schema ignored", "f.json", `{"$schema": "x", "flags": {}}`},
		{"bom", "f.json", "\xef\xbb\xbf" + `{"flags": {}}`},
		{"sniffed json", "flags", `  {"flags": {}}`},
		{"sniffed yaml", "flags", "flags: {}\n"},
		{"yml", "f.yml", "flags:\n  f:\n    state: DISABLED\n    variants: {a: 1}\n"},
		{"json in yaml file", "f.yaml", `{"flags": {}}`},
		{"null default", "f.json", flagJSON(`{"state": "ENABLED", "variants": {"a": "x"}, "defaultVariant": null}`)},
		{"null targeting", "f.json", flagJSON(`{` + boolVariants + `, "targeting": null}`)},
		{"object variants", "f.json", flagJSON(`{"state": "ENABLED", "variants": {"a": {"k": 1}, "b": [1, 2]}}`)},
		{"yaml bool keys", "f.yaml", "flags:\n  f:\n    state: ENABLED\n    variants:\n      true: true\n      false: false\n    defaultVariant: \"true\"\n"},
		{"unused evaluator", "f.json", `{"$evaluators": {"e": {"==": [1, 1]}}, "flags": {}}`},
		{"ref in nested rule", "f.json", `{"$evaluators": {"e": {"==": [{"var": "user"}, "root"]}}, "flags": {"f": {` + boolVariants + `, "targeting": {"if": [{"$ref": "e"}, "on", "off"]}}}}`},
		{"fractional bucketing", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"fractional": [{"var": "email"}, ["on", 1], ["off"]]}}`)},
		{"fractional in if", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{"==": [{"fractional": [["a", 1], ["b", 1]]}, "a"]}, "on", "off"]}}`)},
		{"sem_ver computed op", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{"sem_ver": ["1.0.0", {"var": "op"}, "1.0.0"]}, "on", "off"]}}`)},
		{"var forms", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"or": [{"var": ""}, {"var": ["a"]}, {"var": ["a", 1]}, {"var": 0}, {"var": []}]}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := featureflags.ValidateFlagFile(tc.file, []byte(tc.content)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValidateFlagFileKeys(t *testing.T) {
	keys, err := featureflags.ValidateFlagFile("f.json", []byte(`{"flags": {"b": {"state": "DISABLED", "variants": {"a": 1}}, "a": {"state": "DISABLED", "variants": {"a": 1}}}}`))
	if err != nil || !reflect.DeepEqual(keys, []string{"a", "b"}) {
		t.Fatalf("keys %v, %v", keys, err)
	}
}

func TestValidateFlagFileStructural(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, msg string
	}{
		{"empty json", "f.json", ``, "json"},
		{"empty yaml", "f.yaml", ``, "empty"},
		{"syntax", "f.json", `{"flags": `, "json"},
		{"trailing data", "f.json", `{"flags": {}} {}`, "after"},
		{"two yaml documents", "f.yaml", "flags: {}\n---\nflags: {}\n", "more than one"},
		{"top level array", "f.json", `[]`, "top level"},
		{"no flags", "f.json", `{}`, `"flags"`},
		{"flags not object", "f.json", `{"flags": []}`, `"flags"`},
		{"flag not object", "f.json", flagJSON(`true`), "must be an object"},
		{"empty flag key", "f.json", `{"flags": {"": {"state": "DISABLED", "variants": {"a": 1}}}}`, "must not be empty"},
		{"NUL in flag key", "f.json", `{"flags": {"a\u0000b": {"state": "DISABLED", "variants": {"a": 1}}}}`, `"a\x00b" contains a control character`},
		{"newline in flag key", "f.yaml", "flags:\n  \"a\\nb\": {state: DISABLED, variants: {a: 1}}\n", "control character"},
		{"missing state", "f.json", flagJSON(`{"variants": {"a": 1}}`), `"state" is missing`},
		{"bad state", "f.json", flagJSON(`{"state": "ON", "variants": {"a": 1}}`), `got "ON"`},
		{"no variants", "f.json", flagJSON(`{"state": "ENABLED"}`), "variants"},
		{"empty variants", "f.json", flagJSON(`{"state": "ENABLED", "variants": {}}`), "variants"},
		{"null variant", "f.json", flagJSON(`{"state": "ENABLED", "variants": {"a": null}}`), "no value"},
		{"mixed variants", "f.json", flagJSON(`{"state": "ENABLED", "variants": {"a": 1, "b": "x"}}`), "mix"},
		{"default not a variant", "f.json", flagJSON(`{"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"}`), "not a variant"},
		{"default not a string", "f.json", flagJSON(`{"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": 1}`), "defaultVariant"},
		{"evaluators not object", "f.json", `{"$evaluators": [], "flags": {}}`, "$evaluators"},
		{"evaluator not object", "f.json", `{"$evaluators": {"e": 1}, "flags": {}}`, "evaluator"},
		{"metadata not object", "f.json", `{"metadata": 1, "flags": {}}`, "metadata"},
		{"yaml timestamp", "f.yaml", "flags:\n  f:\n    state: ENABLED\n    variants: {a: 2001-12-14t21:59:43.10-05:00}\n", "unsupported"},
		{"yaml nan", "f.yaml", "flags:\n  f:\n    state: ENABLED\n    variants: {a: .nan}\n", "finite"},
		{"yaml duplicate converted key", "f.yaml", "flags:\n  f:\n    state: ENABLED\n    variants: {1: a, \"1\": b}\n", ""},
		{"too deep", "f.json", flagJSON(`{` + boolVariants + `, "targeting": ` + strings.Repeat(`{"!": `, 70) + `true` + strings.Repeat(`}`, 70) + `}`), "deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := featureflags.ValidateFlagFile(tc.file, []byte(tc.content))
			if !errors.Is(err, featureflags.ErrInvalidFlagFile) {
				t.Fatalf("err = %v, want ErrInvalidFlagFile", err)
			}
			var de *featureflags.DocumentError
			if !errors.As(err, &de) || len(de.Problems) == 0 || de.Problems[0].Kind != featureflags.Structural {
				t.Fatalf("err = %#v, want a *DocumentError with structural problems", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q, want it to mention %q", err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "featureflags: invalid flag file: "+tc.file+":") {
				t.Errorf("err = %q lacks the package prefix and origin", err)
			}
		})
	}
}

// TestRuleMistakesLoad: mistakes inside rules, ignored keys and odd
// metadata do not refuse the document (flagd loads it); Lint reports each.
func TestRuleMistakesLoad(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		kind                featureflags.Kind
		msg                 string
	}{
		{"unknown top-level key", "f.json", `{"flags": {}, "flag": {}}`, featureflags.Advice, `unknown top-level key "flag" (did you mean "flags"?)`},
		{"unknown flag key", "f.json", flagJSON(`{` + boolVariants + `, "targetting": {}}`), featureflags.Advice, `unknown key "targetting" (did you mean "targeting"?)`},
		{"targeting not object", "f.json", flagJSON(`{` + boolVariants + `, "targeting": "on"}`), featureflags.Advice, `targeting is "on", not a rule object`},
		{"targeting literal not a variant", "f.json", flagJSON(`{` + boolVariants + `, "targeting": "maybe"}`), featureflags.RuleError, `returns "maybe", which is not a variant`},
		{"unknown operator", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"frobnicate": [1]}}`), featureflags.RuleError, `unknown operator "frobnicate"`},
		{"nested unknown operator", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{"nope": []}, "on", "off"]}}`), featureflags.RuleError, "unknown operator"},
		{"two operators", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [true, "on", "off"], "==": [1, 1]}}`), featureflags.RuleError, "exactly one operator"},
		{"nested empty object", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{}, "on", "off"]}}`), featureflags.RuleError, "exactly one operator"},
		{"missing ref", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"$ref": "nope"}}`), featureflags.RuleError, `missing evaluator "nope"`},
		{"ref with siblings", "f.json", `{"$evaluators": {"e": {"==": [1, 1]}}, "flags": {"f": {` + boolVariants + `, "targeting": {"$ref": "e", "x": 1}}}}`, featureflags.RuleError, "exactly one operator"},
		{"ref not string", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"$ref": 1}}`), featureflags.RuleError, "$ref"},
		{"nested ref", "f.json", `{"$evaluators": {"a": {"$ref": "b"}, "b": {"==": [1, 1]}}, "flags": {}}`, featureflags.RuleError, "$ref inside an evaluator"},
		{"bad evaluator", "f.json", `{"$evaluators": {"e": {"zap": 1}}, "flags": {}}`, featureflags.RuleError, "unknown operator"},
		{"metadata nested", "f.json", flagJSON(`{"state": "DISABLED", "variants": {"a": 1}, "metadata": {"x": {}}}`), featureflags.Advice, "metadata"},
		{"starts_with arity", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{"starts_with": ["a"]}, "on", "off"]}}`), featureflags.RuleError, "starts_with takes 2 arguments, got 1"},
		{"ends_with literal number", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{"ends_with": ["a", 1]}, "on", "off"]}}`), featureflags.RuleError, "ends_with takes strings, got 1"},
		{"sem_ver op", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{"sem_ver": ["1.0.0", "=>", "1.0.0"]}, "on", "off"]}}`), featureflags.RuleError, `unknown comparison "=>"`},
		{"sem_ver arity", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{"sem_ver": ["1.0.0", "="]}, "on", "off"]}}`), featureflags.RuleError, "sem_ver takes 3 arguments"},
		{"sem_ver literal", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [{"sem_ver": ["1.x", "=", "1.0.0"]}, "on", "off"]}}`), featureflags.RuleError, `"1.x" is not a semantic version`},
		{"fractional unknown variant", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"fractional": [["on", 50], ["of", 50]]}}`), featureflags.RuleError, `"of", which is not a variant`},
		{"fractional zero total", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"fractional": [["on", 0]]}}`), featureflags.RuleError, "every fractional weight is 0"},
		{"fractional no entries", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"fractional": ["bucket"]}}`), featureflags.RuleError, "at least one"},
		{"fractional bad weight", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"fractional": [["on", 0.5], ["off", 1]]}}`), featureflags.RuleError, "whole number"},
		{"fractional overflow", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"fractional": [["on", 2147483647], ["off", 1]]}}`), featureflags.RuleError, "more than 2147483647"},
		{"fractional negative weight", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"fractional": [["on", -5], ["off", 1]]}}`), featureflags.Advice, "negative fractional weight -5"},
		{"fractional not percent", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"fractional": [["on", 30], ["off", 60]]}}`), featureflags.Advice, "total 90, not 100"},
		{"rule in array literal", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"in": ["x", [{"var": "a"}]]}}`), featureflags.Advice, "array literal is not evaluated"},
		{"branch not a variant", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"if": [true, "yes", null]}}`), featureflags.RuleError, `returns "yes", which is not a variant`},
		{"var bad shape", "f.json", flagJSON(`{` + boolVariants + `, "targeting": {"var": [1, 2]}}`), featureflags.RuleError, "var takes"},
		{"no default variant", "f.json", flagJSON(`{"state": "ENABLED", "variants": {"a": 1}}`), featureflags.Advice, "no defaultVariant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := featureflags.ValidateFlagFile(tc.file, []byte(tc.content)); err != nil {
				t.Fatalf("refused: %v", err)
			}
			r := featureflags.Lint(tc.file, []byte(tc.content))
			for _, p := range r.Problems {
				if p.Kind == tc.kind && strings.Contains(p.Message, tc.msg) {
					if p.Line == 0 || p.Column == 0 || p.Pointer == "" {
						t.Errorf("problem not located: %+v", p)
					}
					return
				}
			}
			t.Errorf("no %s problem mentioning %q in %+v", tc.kind, tc.msg, r.Problems)
		})
	}
}
