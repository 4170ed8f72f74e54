package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHelpExitsZero: every way of asking for help prints it on stdout and
// exits 0; the usage line of exec shows KEY -- CMD and config lists its
// sub-commands.
func TestHelpExitsZero(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "Available Commands:"},
		{[]string{"--help"}, "Available Commands:"},
		{[]string{"help"}, "Available Commands:"},
		{[]string{"help", "exec"}, "sshpool exec KEY -- CMD [ARG...] [flags]"},
		{[]string{"exec", "-h"}, "sshpool exec KEY -- CMD [ARG...] [flags]"},
		{[]string{"exec", "demo", "--help"}, "sshpool exec KEY -- CMD [ARG...] [flags]"},
		{[]string{"config", "-h"}, "validate    Check a config file"},
		{[]string{"help", "config", "validate"}, "sshpool config validate FILE [flags]"},
		{[]string{"flags", "--help"}, "eval        Show which pool the router picks for each server"},
		{[]string{"bench", "-help"}, "-n, --count int"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, tt.args...)
		if code != 0 || !strings.Contains(stdout, tt.want) || stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and %q on stdout", tt.args, code, stdout, stderr, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "sshpool ") || !strings.Contains(stdout, " go1.") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil {
		t.Fatalf("version --json: exit %d, %v: %q", code, err, stdout)
	}
	if v.Module == "" || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go1.") {
		t.Errorf("version --json = %+v", v)
	}
}

func TestVersionString(t *testing.T) {
	v := versionInfo{Version: "v1.2.3", Revision: "abc", Time: "2026-01-02T03:04:05Z", Modified: true, GoVersion: "go1.26.8"}
	if got, want := v.String(), "sshpool v1.2.3 (rev abc, 2026-01-02T03:04:05Z, modified) go1.26.8"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	v = versionInfo{Version: "(devel)", GoVersion: "go1.26.8"}
	if got, want := v.String(), "sshpool (devel) go1.26.8"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_sshpool",
		"zsh":  "#compdef sshpool",
		"fish": "complete -c sshpool",
	} {
		code, stdout, stderr := runCLI(t, "completion", shell)
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, stderr, want)
		}
	}
	// The scripts call back into the binary; sub-commands complete.
	code, stdout, _ := runCLI(t, "__complete", "con")
	if code != 0 || !strings.Contains(stdout, "config") {
		t.Errorf("__complete con: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "__complete", "completion", "")
	if code != 0 || !strings.Contains(stdout, "bash") || !strings.Contains(stdout, "fish") {
		t.Errorf("__complete completion: exit %d, %q", code, stdout)
	}
}

func TestSingleDashLong(t *testing.T) {
	root := newRootCmd(nil, nil)
	tests := []struct{ in, want []string }{
		{[]string{"exec", "-config", "c.yaml", "demo", "--", "ls", "-config"},
			[]string{"exec", "--config", "c.yaml", "demo", "--", "ls", "-config"}},
		{[]string{"bench", "-n", "5", "-cmd=echo x", "-c", "2"},
			[]string{"bench", "-n", "5", "--cmd=echo x", "-c", "2"}},
		{[]string{"config", "-preset", "production", "defaults"},
			[]string{"config", "--preset", "production", "defaults"}},
		{[]string{"demo", "-bogus", "-h"}, []string{"demo", "-bogus", "-h"}},
	}
	for _, tt := range tests {
		if got := singleDashLong(root, tt.in); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("singleDashLong(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
