package etcd

import (
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
)

// TestSetKillSwitch: the edit keeps everything else as written (JSON key
// order, YAML comments), removes targeting, adds what is missing, and is a
// no-op when the switch is already as wanted.
func TestSetKillSwitch(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		on        bool
		want      []string // substrings of the result, in order
		changes   int
	}{
		{"json with a rule", `{"flags": {"use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
		  "kill-switch": {"state": "DISABLED", "variants": {"yes": true, "no": false}, "defaultVariant": "no",
		  "targeting": {"if": [true, "yes", "no"]}}}, "metadata": {"team": "infra"}}`, true,
			[]string{`"use-new-pool"`, `"kill-switch"`, `"state": "ENABLED"`, `"defaultVariant": "yes"`, `"metadata"`}, 3},
		{"yaml keeps comments", "# fleet flags\nflags:\n  kill-switch: # the big red button\n    state: ENABLED\n    variants: {on: true, off: false}\n    defaultVariant: off # normal\n",
			true, []string{"# fleet flags", "# the big red button", "defaultVariant: on # normal"}, 1},
		{"no document", "", false, []string{`"kill-switch"`, `"off": false`, `"defaultVariant": "off"`}, 4},
		{"no false variant", `{"flags": {"kill-switch": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}`, false,
			[]string{`"on": true`, `"off": false`, `"defaultVariant": "off"`}, 2},
		{"already on", `{"flags": {"kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}}}`, true, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []byte
			if tc.doc != "" {
				in = []byte(tc.doc)
			}
			out, changes, err := setKillSwitch(in, tc.on)
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != tc.changes {
				t.Errorf("changes %q, want %d", changes, tc.changes)
			}
			s := string(out)
			rest := s
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%q not found (in order) in:\n%s", w, s)
				}
				rest = rest[i+len(w):]
			}
			if strings.Contains(s, "targeting") {
				t.Errorf("targeting left:\n%s", s)
			}
			p, err := featureflags.NewProvider(staticSource{featureflags.Document{Data: out, Origin: "x"}})
			if err != nil {
				t.Fatalf("result refused: %v\n%s", err, s)
			}
			f := featureflags.NewFlags(p)
			defer f.Shutdown(t.Context())
			if err := f.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			got, err := f.Client().BooleanValue(t.Context(), featureflags.FlagKillSwitch, !tc.on, openfeature.EvaluationContext{})
			if err != nil || got != tc.on {
				t.Errorf("kill-switch evaluates to %v (%v), want %v", got, err, tc.on)
			}
		})
	}
}

// TestSetKillSwitchRefusesNonBoolean: a kill switch with string variants is
// not edited (the router could not read it anyway).
func TestSetKillSwitchRefusesNonBoolean(t *testing.T) {
	_, _, err := setKillSwitch([]byte(`{"flags": {"kill-switch": {"state": "ENABLED", "variants": {"a": "x"}, "defaultVariant": "a"}}}`), true)
	if err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("err = %v", err)
	}
}
