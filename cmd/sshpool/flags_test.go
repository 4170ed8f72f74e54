package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestFlagsJSONGolden checks the --json documents of the flag commands
// against testdata/*.golden (run with -update after a deliberate change):
// one JSON object on stdout, snake_case fields, the exit code as without
// --json.
func TestFlagsJSONGolden(t *testing.T) {
	t.Setenv("SSHPOOL_KILL_SWITCH", "")
	t.Chdir(t.TempDir()) // relative paths keep the documents stable
	write := func(name, body string) {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("flags.json", allowList)
	write("next.json", strings.Replace(allowList, `["web-1"]`, `["web-2"]`, 1))
	write("mistakes.json", strings.Replace(allowList, `{"in": [{"var": "targetingKey"}, ["web-1"]]}`, `{"starts_with": [{"var": "host"}]}`, 1))
	write("servers.yaml", "targets:\n  web-1: {host: web1.example.com, user: deploy}\n  web-2: {host: web2.example.com, port: 2222, user: deploy}\n")
	for _, tc := range []struct {
		golden string
		code   int
		args   []string
	}{
		{"flags-validate.json", 0, []string{"flags", "validate", "--json", "mistakes.json"}},
		{"flags-eval.json", 0, []string{"flags", "eval", "--json", "flags.json", "--servers", "servers.yaml"}},
		{"flags-diff.json", 0, []string{"flags", "diff", "--json", "flags.json", "next.json", "--servers", "servers.yaml"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			path := filepath.Join(goldenDir, tc.golden+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFlagsJSONGolden -args -update)", err)
			}
			if stdout != string(want) {
				t.Errorf("stdout differs from %s:\n--- got\n%s--- want\n%s", path, stdout, want)
			}
		})
	}
}

// goldenDir is testdata as an absolute path (the test changes directory).
var goldenDir = func() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "testdata")
}()
