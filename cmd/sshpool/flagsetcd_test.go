package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
	"github.com/sshpool/sshpool/internal/capture"
)

const fleetAllNew = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["a", "b"]]}, "on", "off"]}}}}`

// TestFlagsEtcdCommands: push (lint, diff, publish), a refused file, a
// dry run, a stale --expect-revision, kill-switch, history and rollback,
// against a real etcd, configured from a service config file.
func TestFlagsEtcdCommands(t *testing.T) {
	srv := etcdtest.Start(t)
	cfg := writeTemp(t, "svc.yaml", "flags:\n  source: etcd\n  etcd:\n    endpoints: ["+srv.Endpoint()+"]\n    key: /svc/flags\n")
	good := writeTemp(t, "flags.json", fleetAllNew)
	bad := writeTemp(t, "bad.json", `{"flags": {"kill-switch": {"state": "MAYBE"}}}`)
	servers := []string{"--server", "id=a,host=10.0.0.1", "--server", "id=b,host=10.0.0.2", "--server", "id=c,host=10.0.0.3"}
	etcdArgs := func(args ...string) []string { return append(append(args, "--config", cfg), servers...) }

	code, out, errOut := runCLI(t, etcdArgs("flags", "push", good, "-m", "a and b to the new pool")...)
	if code != 0 || !regexp.MustCompile(`published .*flags.json \(push\) as rev \d+, replacing no document`).MatchString(out) ||
		!strings.Contains(out, "2 legacy→new") {
		t.Fatalf("push: %d\n%s%s", code, out, errOut)
	}
	first := regexp.MustCompile(`as rev (\d+)`).FindStringSubmatch(out)[1]

	code, out, errOut = runCLI(t, etcdArgs("flags", "push", bad)...)
	if code != 1 || !strings.Contains(errOut, `got "MAYBE"`) || !strings.Contains(errOut, "not published") {
		t.Errorf("refused push: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, etcdArgs("flags", "push", good)...)
	if code != 0 || !strings.Contains(out, "already the document in place (rev "+first+"); nothing published") {
		t.Errorf("identical push: %d\n%s", code, out)
	}

	code, out, _ = runCLI(t, etcdArgs("flags", "kill-switch", "on", "--dry-run")...)
	if code != 0 || !strings.Contains(out, "dry run: would replace rev "+first) || !strings.Contains(out, "2 new→legacy") {
		t.Errorf("dry run: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, etcdArgs("flags", "kill-switch", "on", "-m", "incident 42")...)
	if code != 0 || !strings.Contains(out, "defaultVariant: off → on") || !strings.Contains(out, "(kill-switch on) as rev") {
		t.Fatalf("kill-switch on: %d\n%s", code, out)
	}
	code, _, errOut = runCLI(t, etcdArgs("flags", "push", good, "--expect-revision", first)...)
	if code != 1 || !strings.Contains(errOut, "someone published in between") || !strings.Contains(errOut, "nothing was published") {
		t.Errorf("stale --expect-revision: %d\n%s", code, errOut)
	}

	code, out, _ = runCLI(t, etcdArgs("flags", "rollback", first, "-m", "back to the rollout")...)
	if code != 0 || !strings.Contains(out, "(rollback) as rev") || !strings.Contains(out, "2 legacy→new") {
		t.Fatalf("rollback: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "flags", "history", "--config", cfg)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.Contains(lines[1], "*") || !strings.Contains(lines[1], "rollback to "+first+`: "back to the rollout"`) ||
		!strings.Contains(lines[2], `kill-switch on: "incident 42"`) || !strings.Contains(lines[3], "use-new-pool: rule (if)") {
		t.Errorf("history: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "flags", "history", "--config", cfg, "--json", "--limit", "1")
	if code != 0 || !strings.Contains(out, `"rollback_of": `+first) {
		t.Errorf("history --json: %d\n%s", code, out)
	}
}

// TestFlagsEtcdUsage: commands without endpoints, with a bad revision or
// a bad switch state are usage errors.
func TestFlagsEtcdUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"flags", "history"}, "no etcd endpoints"},
		{[]string{"flags", "rollback", "abc", "--endpoints", "127.0.0.1:1"}, `REV "abc"`},
		{[]string{"flags", "kill-switch", "maybe", "--endpoints", "127.0.0.1:1"}, `want on or off`},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s", tc.args, code, errOut)
		}
	}
}

// TestServeFollowsEtcd: serve with flags.source: etcd starts on the etcd
// document (the CLI registers the etcd source) and follows a publish.
func TestServeFollowsEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.Client(t).Put(ctx, "/sshpool/flags", fleetAllNew); err != nil {
		t.Fatal(err)
	}
	cfg := writeTemp(t, "svc.yaml", "admin:\n  addr: 127.0.0.1:0\nflags:\n  source: etcd\n  etcd:\n    endpoints: ["+srv.Endpoint()+"]\n")
	var stdout, stderr capture.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "--config", cfg}, &stdout, &stderr) }()
	go func() { // a start-up failure ends serve: show why
		select {
		case code := <-done:
			t.Errorf("serve ended with %d: %s", code, stderr.String())
			done <- code
		case <-ctx.Done():
		}
	}()
	admin := waitFor(t, &stdout, regexp.MustCompile(`admin: (http://\S+)`))
	if page := httpGet(t, admin+"/debug/routes"); !strings.Contains(page, "etcd /sshpool/flags") {
		t.Errorf("/debug/routes does not show the etcd document:\n%s", page)
	}
	// A publish reaches the running service: /debug/routes shows its revision.
	resp, err := srv.Client(t).Put(ctx, "/sshpool/flags", strings.Replace(fleetAllNew, `"a", "b"`, `"a"`, 1))
	if err != nil {
		t.Fatal(err)
	}
	rev := fmt.Sprintf("rev %d", resp.Header.Revision)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		page := httpGet(t, admin+"/debug/routes")
		if strings.Contains(page, rev) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/debug/routes does not show the published %s:\n%s", rev, page)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d: %s", code, stderr.String())
	}
}
