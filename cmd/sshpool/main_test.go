package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemoRunsCommandsThroughThePool(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"demo", "-jobs", "30", "-concurrency", "6"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"hostname -> sshtest\n",
		"exit 3 -> exit status 3 (kind exit",
		"ran 30 commands from 6 goroutines",
		", 0 failed\n",
		"outstanding=0\n",
		"pool closed; every lease returned\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// 32 commands over at most 2 connections: the pool must reuse them.
	m := regexp.MustCompile(`connections created=(\d+)`).FindStringSubmatch(out)
	if m == nil || (m[1] != "1" && m[1] != "2") {
		t.Errorf("want 1 or 2 connections created (DevelopmentConfig allows 2 per key), got %v in:\n%s", m, out)
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
