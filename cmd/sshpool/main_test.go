package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemoRunsCommandsThroughThePool(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"demo", "--jobs", "30", "--concurrency", "6"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"hostname -> sshtest (the first command dialed a connection)\n",
		"exit 3 -> exit status 3 (kind exit",
		"ran 30 commands from 6 goroutines",
		", 0 failed\n",
		"pool closed; every lease returned (0 outstanding)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// 32 commands over at most 2 connections: the pool must reuse them.
	m := regexp.MustCompile(`new pool: (\d+) connection\(s\) opened in all`).FindStringSubmatch(out)
	if m == nil || (m[1] != "1" && m[1] != "2") {
		t.Errorf("want 1 or 2 connections opened (DevelopmentConfig allows 2 per key), got %v in:\n%s", m, out)
	}
	if m := regexp.MustCompile(`(\d+) hits .*\n\s+(\d+) misses`).FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("no hits explained:\n%s", out)
	}
}

// TestDemoTeachesTheMigration: the old API, through the router, all on
// legacy, then a sticky 50% rollout, then the kill switch; which pool
// served each call and why.
func TestDemoTeachesTheMigration(t *testing.T) {
	code, stdout, stderr := runCLI(t, "demo", "--jobs", "4", "--concurrency", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r demoResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Migration) != 3 {
		t.Fatalf("steps: %+v", r.Migration)
	}
	count := func(st demoStep, pool, reason string) int {
		n := 0
		for _, c := range st.Calls {
			if c.Pool == pool && c.Reason == reason && c.Output == "hello from "+c.Server {
				n++
			}
		}
		return n
	}
	calls := 2 * len(demoServers)
	if n := count(r.Migration[0], "legacy", "flag-off"); n != calls {
		t.Errorf("all legacy: %d of %d calls on legacy: %+v", n, calls, r.Migration[0])
	}
	onNew := count(r.Migration[1], "new", "flag-on")
	if onNew == 0 || onNew == calls || onNew+count(r.Migration[1], "legacy", "flag-off") != calls {
		t.Errorf("rollout: %d of %d on new: %+v", onNew, calls, r.Migration[1])
	}
	// Sticky: each server went the same way both times.
	route := map[string]string{}
	for _, c := range r.Migration[1].Calls {
		if prev, ok := route[c.Server]; ok && prev != c.Pool {
			t.Errorf("%s moved from %s to %s within the rollout", c.Server, prev, c.Pool)
		}
		route[c.Server] = c.Pool
	}
	if n := count(r.Migration[2], "legacy", "kill-switch"); n != calls {
		t.Errorf("kill switch: %d of %d on legacy: %+v", n, calls, r.Migration[2])
	}
	if r.Pools.Legacy.Connections != len(demoServers) || r.Pools.New.Leases < int64(onNew) || r.Pools.New.ConnectionsOpen != 0 {
		t.Errorf("pools: %+v (the new pool drops the idle connections of servers that moved back)", r.Pools)
	}
	code, text, _ := runCLI(t, "demo", "--jobs", "2", "--concurrency", "1")
	for _, want := range []string{"legacy.GetConnectionPool().GetOrCreateConnection(server, false)", "== rollout 50%",
		"-> new    pool  (flag-on)  hello from", "-> legacy pool  (kill-switch)", "hits   - a connection of the key had a free session slot"} {
		if code != 0 || !strings.Contains(text, want) {
			t.Errorf("demo text lacks %q:\n%s", want, text)
		}
	}
}

func TestUnknownCommandAndUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStderr string
	}{
		{nil, 2, "missing command; one of: bench, completion, config, demo, exec, flags, serve, version"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"dmeo"}, 2, `(did you mean demo?)`},
		{[]string{"demo", "-jobs", "0"}, 2, "--jobs and --concurrency must be at least 1"},
		{[]string{"demo", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"help", "nope"}, 2, `unknown help topic "nope"`},
		{[]string{"completion", "tcsh"}, 2, `invalid argument "tcsh"`},
		{[]string{"version", "extra"}, 2, `unknown command "extra"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.inStderr) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.inStderr)
		}
	}
}
