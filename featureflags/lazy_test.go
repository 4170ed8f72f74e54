package featureflags_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/diegoholiveira/jsonlogic/v3"

	"github.com/sshpool/sshpool/featureflags"
)

// TestLazyControlMatchesLibrary: where every argument can be evaluated, the
// lazy if, ?:, and, or give exactly what the JSONLogic library's own
// operations give for the same rule and data, quirks included (and's
// largest number, an if branch that is an object applied once more, an
// if's trailing else returned as is).
func TestLazyControlMatchesLibrary(t *testing.T) {
	data := map[string]any{
		"t": true, "f": false, "zero": 0.0, "one": 1.0, "neg": -2.0, "s": "x", "empty": "",
		"list": []any{"a", "b"}, "none": []any{}, "obj": map[string]any{"k": "v"},
	}
	values := []string{`true`, `false`, `0`, `1`, `-2`, `3.5`, `"x"`, `""`, `null`, `["a"]`, `[]`,
		`{"var": "t"}`, `{"var": "zero"}`, `{"var": "s"}`, `{"var": "empty"}`, `{"var": "list"}`,
		`{"var": "none"}`, `{"var": "missing"}`, `{"var": "obj"}`, `{"==": [{"var": "s"}, "x"]}`, `{"starts_with": [{"var": "s"}, "x"]}`}
	var rules []string
	for _, a := range values {
		rules = append(rules,
			fmt.Sprintf(`{"if": [%s, "yes", "no"]}`, a),
			fmt.Sprintf(`{"if": [%s, "yes"]}`, a),
			fmt.Sprintf(`{"if": [false, "a", %s, "b", "c"]}`, a),
			fmt.Sprintf(`{"if": [%s, %s, {"var": "s"}]}`, a, a),
			fmt.Sprintf(`{"if": [true, [%s, {"var": "s"}], "no"]}`, a),
			fmt.Sprintf(`{"if": [%s, [{"var": "s"}, {"if": [%s, 1, 2]}]]}`, a, a),
			fmt.Sprintf(`{"if": [false, 0, [%s]]}`, a),
			fmt.Sprintf(`{"or": [%s]}`, a),
			fmt.Sprintf(`{"and": [%s]}`, a),
			fmt.Sprintf(`{"!": {"or": [%s, false]}}`, a),
		)
		for _, b := range values {
			rules = append(rules,
				fmt.Sprintf(`{"and": [%s, %s]}`, a, b),
				fmt.Sprintf(`{"or": [%s, %s]}`, a, b),
				fmt.Sprintf(`{"and": [%s, 2, %s]}`, a, b),
				fmt.Sprintf(`{"or": [false, %s, %s]}`, a, b),
				fmt.Sprintf(`{"if": [{"and": [%s, %s]}, {"or": [%s, "z"]}, "no"]}`, a, b, b),
			)
		}
	}
	rules = append(rules, `{"if": []}`, `{"if": ["only"]}`, `{"and": []}`, `{"or": []}`,
		`{"?:": [true, "a", "b"]}`, `{"?:": [false, "a", "b"]}`, `{"?:": [{"var": "t"}, {"var": "s"}, "b"]}`,
		`{"?:": [{"var": "s"}]}`, `{"?:": [0]}`, `{"if": [true, {"var": "obj"}, "no"]}`)
	if _, err := featureflags.EvalRule(`true`, "f", nil, fixedNow); err != nil { // registers the operations
		t.Fatal(err)
	}
	for _, rule := range rules {
		got, gotErr := featureflags.EvalRule(rule, "f", data, fixedNow)
		var parsed any
		if err := json.Unmarshal([]byte(rule), &parsed); err != nil {
			t.Fatalf("%s: %v", rule, err)
		}
		want, wantErr := jsonlogic.ApplyInterface(parsed, data) //lint:ignore SA1019 the pinned library's own evaluation is the reference
		if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: lazy %#v (%v), library %#v (%v)", rule, got, gotErr, want, wantErr)
		}
	}
}

// TestLazyControlSkipsUnusedArguments: an operation that cannot use its
// input makes the rule null only when it is evaluated: not in an if's
// branch that is not taken, nor after the value that decides an and/or.
func TestLazyControlSkipsUnusedArguments(t *testing.T) {
	const bad = `{"starts_with": [1]}`
	for _, tc := range []struct {
		rule string
		want any
	}{
		{`{"if": [true, "a", ` + bad + `]}`, "a"},
		{`{"if": [false, ` + bad + `, "b"]}`, "b"},
		{`{"if": [false, "a", ` + bad + `, "b", "c"]}`, nil}, // the second condition is evaluated
		{`{"if": [true, "a", {"if": [` + bad + `, "b", "c"]}]}`, "a"},
		{`{"?:": [true, "a", ` + bad + `]}`, "a"},
		{`{"or": [true, ` + bad + `]}`, true},
		{`{"or": [false, ` + bad + `]}`, nil},
		{`{"and": [false, ` + bad + `]}`, false},
		{`{"and": [true, ` + bad + `]}`, nil},
		{`{"!": [` + bad + `]}`, nil}, // evaluated: the rule is null, not true
		{`{"fractional": ["key", [{"if": [true, "a", ` + bad + `]}, 1]]}`, "a"},
		{`{"if": [true, [{"if": [true, "a", ` + bad + `]}]]}`, []any{"a"}},
		{`{"if": [false, "x", true, [{"or": [true, ` + bad + `]}], "y"]}`, []any{true}},
	} {
		got, err := featureflags.EvalRule(tc.rule, "f", nil, fixedNow)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, %v; want %#v", tc.rule, got, err, tc.want)
		}
	}
}
