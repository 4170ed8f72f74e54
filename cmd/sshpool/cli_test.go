package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
)

// runCLI runs the CLI with args and returns the exit code and outputs.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExec(t *testing.T) {
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"exec", "demo", "--", "echo", "hello", "world"}, 0, "hello world\n", "embedded SSH server"},
		{[]string{"exec", "demo", "--", "exit", "3"}, 3, "", ""},
		{[]string{"exec", "demo", "--", "stderr", "oops"}, 0, "", "oops\n"},
		{[]string{"exec", "demo", "--", "nosuchcmd"}, 127, "", "command not found"},
		{[]string{"exec", "demo"}, 2, "", "missing command: sshpool exec KEY -- CMD"},
		{[]string{"exec", "--", "echo"}, 2, "", "missing KEY before --"},
		{[]string{"exec", "demo", "ls", "-l"}, 2, "", "goes after --"},
		{[]string{"exec", "demo", "--", "echo", "-n", "--", "x"}, 0, "-n -- x\n", ""},
		// Flags after KEY count (they were silently ignored before).
		{[]string{"exec", "demo", "--config", "/nonexistent.yaml", "--", "true"}, 1, "", "no such file"},
		// The standard flag package's single-dash spelling still works.
		{[]string{"exec", "-config", "/nonexistent.yaml", "demo", "--", "true"}, 1, "", "no such file"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
}

func TestBench(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bench", "-n", "50", "-c", "4", "--cmd", "echo x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, re := range []string{`bench: 50 commands \("echo x" on demo\), concurrency 4, 0 failed`,
		`throughput: [0-9.]+ ops/s`, `latency: p50=\S+ p90=\S+ p99=\S+ max=\S+`, `connections created=[12],`} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("bench output lacks %s:\n%s", re, stdout)
		}
	}
	// Not a terminal: no progress bar.
	if strings.ContainsAny(stderr, "\r\x1b") {
		t.Errorf("progress drawn on a pipe: %q", stderr)
	}
	if code, _, stderr := runCLI(t, "bench", "-n", "0"); code != 2 || !strings.Contains(stderr, "-n must be") {
		t.Errorf("bench -n 0: %d %s", code, stderr)
	}
}

// TestBenchAllFailed: a run where every command fails reports the
// failure, never "0.0 ops/s" and "p50=0s".
func TestBenchAllFailed(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bench", "-n", "5", "--cmd", "false")
	if code != 1 || !strings.Contains(stderr, "sshpool bench: all 5 commands failed: sshconn: exec on ") ||
		!strings.Contains(stdout, "throughput: none: every command failed") || strings.Contains(stdout, "p50=") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "bench", "-n", "3", "--cmd", "false", "--json")
	var r map[string]any
	if err := json.Unmarshal([]byte(stdout), &r); code != 1 || err != nil {
		t.Fatalf("--json: exit %d, %v: %s", code, err, stdout)
	}
	if r["succeeded"] != 0.0 || r["failed"] != 3.0 || r["p50_seconds"] != nil || r["ops_per_second"] != 0.0 {
		t.Errorf("--json of an all-failed run: %v", r)
	}
}

// TestBenchCompare runs every contender on the embedded server and checks
// the table, the chart and the JSON document.
func TestBenchCompare(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "b.svg")
	code, stdout, stderr := runCLI(t, "bench", "--compare", "-n", "12", "-c", "3", "--rounds", "3", "--chart", chart)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	names := []string{"pool", "x/crypto client", "legacy pool", "adapter", "dial per command", "OpenSSH ControlMaster"}
	for _, name := range names {
		row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(name) + ` \| ([\d.]+|not run: .*) \|`)
		if !row.MatchString(stdout) {
			t.Errorf("no row for %s:\n%s", name, stdout)
		}
	}
	if !strings.Contains(stdout, "| pool | ") || !strings.Contains(stdout, "| 1.00× | 0 |") {
		t.Errorf("pool row:\n%s", stdout)
	}
	svg, err := os.ReadFile(chart)
	if err != nil || !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), "dial") {
		t.Errorf("chart %s: %v, %.200s", chart, err, svg)
	}
	code, stdout, stderr = runCLI(t, "bench", "--compare", "-n", "4", "-c", "2", "--rounds", "2", "--chart", "", "--json")
	var r compareResult
	if err := json.Unmarshal([]byte(stdout), &r); code != 0 || err != nil {
		t.Fatalf("--json: exit %d, %v, stderr %s: %s", code, err, stderr, stdout)
	}
	if len(r.Contenders) != len(names) || r.Contenders[0].RatioToPool != 1 || r.Chart != "" || r.Rounds != 2 {
		t.Errorf("--json = %+v", r)
	}
	for _, c := range r.Contenders {
		if c.Skipped == "" && (c.Succeeded+c.Failed != 4 || c.OpsPerSecond <= 0) {
			t.Errorf("%s: %+v", c.Name, c)
		}
	}
}

// TestBenchCompareAllFailed: a contender whose every command fails says
// so in its row (the pool's failure fails the command).
func TestBenchCompareAllFailed(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bench", "--compare", "-n", "2", "-c", "1", "--rounds", "1", "--chart", "", "--cmd", "false")
	if code != 1 || !strings.Contains(stdout, "| pool | all 2 failed: sshconn: exec on ") || !strings.Contains(stderr, "sshpool bench: the pool: all 2 commands failed") {
		t.Errorf("exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
}

func TestConfig(t *testing.T) {
	good := writeTemp(t, "good.yaml", "pool:\n  max_connections: 7\ntargets:\n  db:\n    host: db1\n    password: hunter2\n")
	bad := writeTemp(t, "bad.yaml", "pool:\n  max_connections: -1\n")
	unknown := writeTemp(t, "unknown.json", `{"pool": {"max_conns": 1}}`)
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"config", "defaults"}, 0, "max_connections: 100", ""},
		{[]string{"config", "defaults", "-preset", "production"}, 0, "dial_timeout: 15s", ""},
		{[]string{"config", "-preset", "turbo", "defaults"}, 1, "", `unknown preset "turbo"`},
		{[]string{"config", "validate", good}, 0, good + ": ok", ""},
		{[]string{"config", "validate", bad}, 1, "", "sshpool config validate: config: " + bad + ":2: pool.max_connections = -1, want 1..1048576\n"},
		{[]string{"config", "validate", unknown}, 1, "", unknown + `:1: pool.max_conns = 1, unknown key (did you mean pool.max_connections?)`},
		{[]string{"config", "export", good}, 0, "max_connections: 7", ""},
		{[]string{"config", "export", good}, 0, "password: <redacted>", ""},
		{[]string{"config"}, 2, "", "missing command; one of: defaults, diff, export, validate"},
		{[]string{"config", "valdate"}, 2, "", `unknown command "valdate" (did you mean validate?)`},
		{[]string{"config", "validate"}, 2, "", "accepts 1 arg(s), received 0"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
		if strings.Contains(stdout, "hunter2") {
			t.Errorf("%q leaks a secret:\n%s", tt.args, stdout)
		}
	}
}

const allowList = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["web-1"]]}, "on", null]}}}}`

func TestFlags(t *testing.T) {
	t.Setenv("SSHPOOL_KILL_SWITCH", "")
	good := writeTemp(t, "flags.json", allowList)
	bad := writeTemp(t, "bad.json", `{"flags": {"x": {"state": "ON"}}}`)
	partial := writeTemp(t, "partial.yaml", "flags:\n  other:\n    state: ENABLED\n    variants: {a: true}\n    defaultVariant: a\n")
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"flags", "validate", good}, 0, "flags.json: loads 2 flags, 0 warnings", ""},
		{[]string{"flags", "validate", "--strict", good}, 0, "loads 2 flags, 0 warnings", ""},
		{[]string{"flags", "validate", partial}, 0, `partial.yaml:2:3: warning: flag "kill-switch": "kill-switch" is not defined; flagd: the router gets FLAG_NOT_FOUND`, ""},
		{[]string{"flags", "validate", "--strict", partial}, 1, "loads 1 flags, 2 warnings", ""},
		{[]string{"flags", "validate", bad}, 1, `bad.json:1:27: error: flag "x": "state" must be "ENABLED" or "DISABLED", got "ON"`, ""},
		{[]string{"flags", "validate", "--json", bad}, 1, `"kind": "structural"`, ""},
		{[]string{"flags", "validate", "--max-bytes", "10", good}, 1, "", "file too large"},
		{[]string{"flags", "eval", good, "-server-id", "web-1", "-host", "h1"}, 0,
			"use-new-pool: true (reason TARGETING_MATCH, variant on)\ndecision: new (reason flag-on)", ""},
		{[]string{"flags", "eval", "--server-id", "web-2", good}, 0,
			"use-new-pool: false (reason DEFAULT, variant off)\ndecision: legacy (reason flag-off)", ""},
		{[]string{"flags", "eval", good}, 2, "", "no servers: give --servers CONFIG or --server"},
		{[]string{"flags", "eval", good, "--server", "host=h"}, 2, "", "no id"},
		{[]string{"flags"}, 2, "", "missing command; one of: diff, eval, history, kill-switch, push, rollback, validate"},
		{[]string{"flags", "diff", good}, 2, "", "accepts 2 arg(s)"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
	t.Setenv("SSHPOOL_KILL_SWITCH", "true")
	if _, stdout, _ := runCLI(t, "flags", "eval", good, "--server-id", "web-1"); !strings.Contains(stdout, "decision: legacy (reason kill-switch)") {
		t.Errorf("kill switch by environment: %s", stdout)
	}
}

// TestFlagsValidateHostileFiles: validate and push refuse, fast and with a
// clear error, what is not a regular flag file of sensible size (push
// before it reaches etcd: the endpoint here answers nothing).
func TestFlagsValidateHostileFiles(t *testing.T) {
	f := inputfiletest.Make(t, t.TempDir(), ".json", `{"flags": {}}`, 4<<20)
	fifo, link, zero, big := f.FIFO, f.FIFOLink, f.ZeroLink, f.Oversized
	for path, msg := range map[string]string{
		fifo: "not a regular file (a named pipe)", link: "not a regular file (a named pipe)",
		zero: "not a regular file (a character device)", big: "file too large",
	} {
		for _, args := range [][]string{{"flags", "validate", path}, {"flags", "push", path, "--endpoints", "127.0.0.1:1"}} {
			start := time.Now()
			code, _, stderr := runCLI(t, args...)
			if code != 1 || !strings.Contains(stderr, msg) || !strings.Contains(stderr, path) {
				t.Errorf("%s %s: exit %d, stderr %q; want 1 and %q", args[1], path, code, stderr, msg)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%s %s took %s", args[1], path, d)
			}
		}
	}
}

// TestFlagsEvalMany: eval over servers from a config file and --server
// specifications, as a table with a summary and as JSON.
func TestFlagsEvalMany(t *testing.T) {
	t.Setenv("SSHPOOL_KILL_SWITCH", "")
	good := writeTemp(t, "flags.json", allowList)
	servers := writeTemp(t, "servers.yaml", "targets:\n  web-1: {host: web1.example.com, user: deploy}\n  db-1: {host: 10.0.0.5, port: 2222, user: dba}\n")
	code, stdout, stderr := runCLI(t, "flags", "eval", good, "--servers", servers, "--server", "id=web-9,host=web9,user=ops")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"SERVER  HOST                 USER    ROUTE   REASON    VARIANT",
		"db-1    10.0.0.5:2222        dba     legacy  flag-off  off",
		"web-1   web1.example.com:22  deploy  new     flag-on   on",
		"web-9   web9:22              ops     legacy  flag-off  off",
		"3 servers: 1 to the new pool, 2 to legacy (0 because evaluation failed)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("eval output lacks %q:\n%s", want, stdout)
		}
	}
	broken := writeTemp(t, "broken.json", strings.Replace(allowList, `{"in"`, `{"starts_with": [{"var": "host"}]}, "on", {"in"`, 1))
	code, stdout, _ = runCLI(t, "flags", "eval", broken, "--server", "id=web-1,host=h")
	if code != 0 || !strings.Contains(stdout, "warning: in "+broken+", the rules of use-new-pool have errors") ||
		!strings.Contains(stdout, "web-1   h:22  ") {
		t.Errorf("eval of a file whose rule has errors: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "flags", "eval", good, "--server", "id=web-1,host=h", "--json")
	var tb struct {
		Servers []struct{ Server, Route, Reason string }
		Summary struct{ Servers, New int }
	}
	if err := json.Unmarshal([]byte(stdout), &tb); err != nil || code != 0 || tb.Summary.New != 1 || tb.Servers[0].Route != "new" {
		t.Errorf("eval --json: exit %d, %+v, %v\n%s", code, tb, err, stdout)
	}
}

// TestFlagsDiff: diff shows the servers that change pool between two flag
// files, and refuses to compare with a file that would be refused.
func TestFlagsDiff(t *testing.T) {
	old := writeTemp(t, "old.json", allowList)
	next := writeTemp(t, "new.json", strings.Replace(allowList, `["web-1"]`, `["web-2"]`, 1))
	broken := writeTemp(t, "broken.json", strings.Replace(allowList, `"defaultVariant": "off"`, `"defaultVariant": "of"`, 1))
	code, stdout, stderr := runCLI(t, "flags", "diff", old, next, "--server", "id=web-1,host=h1", "--server", "id=web-2,host=h2", "--server", "id=db-1,host=h3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"web-1   h1:22  new (flag-on)      legacy (flag-off)", "web-2   h2:22  legacy (flag-off)  new (flag-on)",
		"2 of 3 servers change: 1 legacy→new, 1 new→legacy; new pool 1 → 1 servers; 0 evaluations fail with the new flags"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("diff output lacks %q:\n%s", want, stdout)
		}
	}
	erring := writeTemp(t, "erring.json", strings.Replace(allowList, `{"in"`, `{"starts_with": [{"var": "host"}]}, "on", {"in"`, 1))
	code, stdout, _ = runCLI(t, "flags", "diff", old, erring, "--server", "id=web-1,host=h1")
	if code != 0 || !strings.Contains(stdout, "warning: in "+erring+", the rules of use-new-pool have errors") ||
		!strings.Contains(stdout, "web-1   h1:22  new (flag-on)  legacy (flag-off)") {
		t.Errorf("diff with a rule that has errors: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "flags", "diff", old, broken, "--server", "id=web-1,host=h1")
	if code != 1 || !strings.Contains(stdout, "broken.json would be refused; the previous flags would stay") ||
		!strings.Contains(stdout, `defaultVariant "of" is not a variant`) {
		t.Errorf("diff with a refused file: %d\n%s", code, stdout)
	}
}

// TestServe starts serve on the embedded server, queries the admin
// endpoints, then cancels its context as SIGINT would.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr capture.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "-admin", "127.0.0.1:0"}, &stdout, &stderr) }()
	admin := waitFor(t, &stdout, regexp.MustCompile(`admin: (http://\S+)`))
	waitFor(t, &stdout, regexp.MustCompile(`serving;`))
	for path, want := range map[string]string{"/livez": "ok", "/readyz": `"ready": true`, "/healthz": `"ready": true`,
		"/metrics": `sshpool_gets_total{pool="new"}`, "/metrics?": "go_goroutines", "/metrics?x": "process_cpu_seconds_total",
		"/debug/config": "kill_switch_env", "/debug/pool": `"entries"`} {
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d, want %q in %s", path, resp.StatusCode, want, body)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d, stderr %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"embedded SSH server on 127.0.0.1:", "-> hello from the router", "stopped:"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve output lacks %q:\n%s", want, out)
		}
	}
}

// TestServeReloadOnSIGHUP applies a changed pool section on SIGHUP, logs
// the result through slog on stderr (never stdout), shows it on
// /debug/config, and keeps the configuration when the file turns invalid.
func TestServeReloadOnSIGHUP(t *testing.T) {
	path := writeTemp(t, "c.yaml", "pool:\n  max_connections: 10\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr capture.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--config", path, "--admin", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	admin := waitFor(t, &stdout, regexp.MustCompile(`admin: (http://\S+)`))
	waitFor(t, &stdout, regexp.MustCompile(`serving;`))
	if got := httpGet(t, admin+"/debug/config"); !strings.Contains(got, "max_connections: 10\n") {
		t.Fatalf("/debug/config before reload:\n%s", got)
	}
	os.WriteFile(path, []byte("pool:\n  max_connections: 33\nrouter:\n  decision_cache: 5s\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, &stderr, regexp.MustCompile(`level=INFO msg="config reloaded" pool.max_connections=33 applied=\[pool.max_connections\] pool_changes="\[max_connections 10→33\]" close_idle=0 over_limit_busy=0 pending_restart=\[router.decision_cache\]`))
	// /debug/config shows what is in force: the new pool section, the
	// router settings it started with.
	got := httpGet(t, admin+"/debug/config")
	if !strings.Contains(got, "max_connections: 33\n") || !strings.Contains(got, "decision_cache: 1s\n") {
		t.Errorf("/debug/config after reload:\n%s", got)
	}
	os.WriteFile(path, []byte("pool:\n  max_connections: nope\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, &stderr, regexp.MustCompile(`level=WARN msg="config reload rejected; configuration unchanged" err="config: \S+c.yaml:2: pool.max_connections = \\"nope\\", want an integer"`))
	if got := httpGet(t, admin+"/debug/config"); !strings.Contains(got, "max_connections: 33\n") {
		t.Errorf("/debug/config after a rejected reload:\n%s", got)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d, stderr %s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "config reload") {
		t.Errorf("reload results on stdout:\n%s", stdout.String())
	}
}

// TestServeStartupErrorIsTheCause: a start-up failure reports its cause,
// once; fx's chain of Go functions only with -v.
func TestServeStartupErrorIsTheCause(t *testing.T) {
	path := writeTemp(t, "c.yaml", "flags:\n  file: /nonexistent/flags.json\n")
	code, stdout, stderr := runCLI(t, "serve", "--config", path, "--admin", "127.0.0.1:0")
	if code != 1 || !strings.HasPrefix(stderr, "sshpool serve: start: featureflags: ") ||
		strings.Contains(stderr, "registerHooks") || strings.Contains(stderr, ".go:") || strings.Count(stderr, "no such file") != 1 {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout, "serving") {
		t.Errorf("stdout: %s", stdout)
	}
	code, _, stderr = runCLI(t, "serve", "--config", path, "--admin", "127.0.0.1:0", "-v")
	if code != 1 || !strings.Contains(stderr, "registerHooks") {
		t.Errorf("-v: exit %d, stderr:\n%s", code, stderr)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestServeAdminAddressInUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr capture.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "-admin", "127.0.0.1:0"}, &stdout, &stderr) }()
	admin := waitFor(t, &stdout, regexp.MustCompile(`admin: http://(\S+)`))
	code, _, errOut := runCLI(t, "serve", "-admin", admin)
	if code != 1 || !strings.Contains(errOut, "admin listen") {
		t.Errorf("second serve on %s: exit %d, stderr %s", admin, code, errOut)
	}
	cancel()
	<-done
}

// waitFor polls buf until re matches and returns its first group.
func waitFor(t *testing.T, buf *capture.Buffer, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(buf.String()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
	}
	t.Fatalf("output never matched %s:\n%s", re, buf.String())
	return ""
}

// TestExecSSHFailureExits255: a command that could not run exits 255, as
// ssh does; an unknown key names the configured targets.
func TestExecSSHFailureExits255(t *testing.T) {
	cfg := writeTemp(t, "c.yaml", "pool:\n  max_retries: -1\n  dial_timeout: 2s\ntargets:\n  db:\n    host: 127.0.0.1\n    port: 1\n  web:\n    host: 127.0.0.1\n    port: 1\n")
	code, _, stderr := runCLI(t, "exec", "db", "--config", cfg, "--", "true")
	if code != 255 || !strings.Contains(stderr, "sshpool exec: ") {
		t.Errorf("refused connection: exit %d, stderr %q; want 255", code, stderr)
	}
	// .onion names never reach DNS (RFC 7686): a lookup fails at once.
	code, _, stderr = runCLI(t, "exec", "--config", cfg, "web-canary.onion", "--", "true")
	if code != 255 || !strings.Contains(stderr, `"web-canary.onion" is not a configured target (targets: db, web) and does not resolve`) {
		t.Errorf("unknown key: exit %d, stderr %q", code, stderr)
	}
	// The embedded server says it runs no shell (it used to echo the line).
	code, stdout, stderr := runCLI(t, "exec", "demo", "--", "echo out; exit 3")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "sshtest: unsupported shell syntax: ';' at column 9") {
		t.Errorf("shell syntax on the embedded server: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
