package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/sshpool/sshpool/internal/testenv"
)

// go test -run TestGolden -update rewrites testdata/golden from the CLI
// (the flag is declared in flags_test.go).

// golden compares got with testdata/golden/name (or rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the CLI's output (go test -run %s -update rewrites it):\n--- want\n%s\n--- got\n%s", path, t.Name(), want, got)
	}
}

// TestGoldenHelp: the help text of every command, as users read it (the
// commands are taken from the tree, so a new one needs its golden file).
func TestGoldenHelp(t *testing.T) {
	for _, cmd := range commandPaths(newRootCmd(nil, nil), nil) {
		name := "help-" + strings.Join(append([]string{"sshpool"}, cmd...), "-") + ".txt"
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append(cmd, "--help")...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			golden(t, name, stdout)
		})
	}
}

// commandPaths lists the argument paths of c and every command below it
// that a user sees (not help, nor cobra's hidden completion commands).
func commandPaths(c *cobra.Command, path []string) [][]string {
	out := [][]string{path}
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && sub.Name() != "help" {
			out = append(out, commandPaths(sub, append(slices.Clone(path), sub.Name()))...)
		}
	}
	return out
}

// TestExitCodes is the CLI's exit-code contract in one table.
func TestExitCodes(t *testing.T) {
	cfg := writeTemp(t, "c.yaml", "pool:\n  max_retries: -1\ntargets:\n  down:\n    host: 127.0.0.1\n    port: 1\n")
	bad := writeTemp(t, "bad.yaml", "pool:\n  max_connections: -1\n")
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"help", "exec"}, 0},
		{[]string{"exec", "-h"}, 0},
		{[]string{"version"}, 0},
		{[]string{"exec", "demo", "--", "true"}, 0},
		{nil, 2},                                  // no command
		{[]string{"nope"}, 2},                     // unknown command
		{[]string{"demo", "--nope"}, 2},           // unknown flag
		{[]string{"config", "validate"}, 2},       // missing argument
		{[]string{"help", "nope"}, 2},             // unknown help topic
		{[]string{"exec", "demo"}, 2},             // no remote command
		{[]string{"bench", "-n", "0"}, 2},         // out of range
		{[]string{"config", "validate", bad}, 1},  // a bad config
		{[]string{"config", "diff", bad, bad}, 1}, // bad configs
		{[]string{"config", "diff", bad}, 2},      // missing argument
		{[]string{"exec", "demo", "--", "exit", "7"}, 7},
		{[]string{"exec", "demo", "--", "nosuchcmd"}, 127},
		{[]string{"exec", "--config", cfg, "down", "--", "true"}, 255}, // connection refused
	}
	for _, tt := range tests {
		if code, _, stderr := runCLI(t, tt.args...); code != tt.code {
			t.Errorf("sshpool %s: exit %d, want %d; stderr %s", strings.Join(tt.args, " "), code, tt.code, stderr)
		}
	}
}

// TestGoldenJSONSchemas: the shape (key paths and value types) of every
// --json document; scripts rely on it. Values change from run to run,
// shapes must not, unless on purpose.
func TestGoldenJSONSchemas(t *testing.T) {
	good := writeTemp(t, "good.yaml", "pool:\n  max_connections: 7\n")
	bad := writeTemp(t, "bad.yaml", "pool:\n  max_conns: 7\n")
	broken := writeTemp(t, "broken.json", "{\"pool\": {\n  \"max_connections\": 7,\n}}")
	changed := writeTemp(t, "changed.yaml", "pool:\n  max_connections: 5\n  max_lifetime: 1h\nadmin:\n  addr: 127.0.0.1:9000\n")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"version", []string{"version", "--json"}, 0},
		{"exec", []string{"exec", "demo", "--json", "--", "echo", "hi"}, 0},
		{"exec-failed", []string{"exec", "demo", "--json", "--", "exit", "3"}, 3},
		{"bench", []string{"bench", "-n", "4", "-c", "2", "--json"}, 0},
		{"bench-compare", []string{"bench", "--compare", "-n", "2", "-c", "1", "--rounds", "1", "--chart", "", "--json"}, 0},
		{"config-validate-ok", []string{"config", "validate", good, "--json"}, 0},
		{"config-validate-problems", []string{"config", "validate", bad, "--json"}, 1},
		// A file that does not parse: no key, its line in source.
		{"config-validate-syntax", []string{"config", "validate", broken, "--json"}, 1},
		{"demo", []string{"demo", "--jobs", "4", "--concurrency", "2", "--json"}, 0},
		{"config-diff", []string{"config", "diff", good, changed, "--json"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := exec.LookPath("ssh"); err != nil && tt.name == "bench-compare" {
				testenv.Missing(t, "ssh is not installed: the OpenSSH contender would not run (.ci/run installs it)")
			}
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, stderr)
			}
			var doc any
			dec := json.NewDecoder(strings.NewReader(stdout))
			if err := dec.Decode(&doc); err != nil || dec.More() {
				t.Fatalf("stdout is not one JSON document (%v):\n%s", err, stdout)
			}
			golden(t, "json-"+tt.name+".txt", strings.Join(schema(doc), "\n")+"\n")
		})
	}
}

// schema lists the key paths of v with the JSON type of their values
// ("contenders[].name string"); arrays of objects are described by the
// union of their elements, arrays of other values only as "array" (an
// errors list may be empty or not from run to run).
func schema(v any) []string {
	set := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			set[path+" object"] = true
			for k, e := range x {
				walk(strings.TrimPrefix(path+"."+k, "."), e)
			}
		case []any:
			set[path+" array"] = true
			for _, e := range x {
				if _, ok := e.(map[string]any); ok {
					walk(path+"[]", e)
				}
			}
		case string:
			set[path+" string"] = true
		case float64:
			set[path+" number"] = true
		case bool:
			set[path+" bool"] = true
		case nil:
			set[path+" null"] = true
		default:
			set[fmt.Sprintf("%s %T", path, v)] = true
		}
	}
	walk("", v)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, strings.TrimSpace(k))
	}
	slices.Sort(out)
	return out
}
