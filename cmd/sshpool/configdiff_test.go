package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/pool"
)

const (
	diffOld = "pool:\n  max_connections: 20\n  max_sessions_per_connection: 8\n" +
		"targets:\n  web:\n    host: web1\n    password: old-s3cret\n"
	diffNew = "pool:\n  max_connections: 10\n  max_sessions_per_connection: 4\n  max_lifetime: 1h\n" +
		"admin:\n  addr: 127.0.0.1:9000\ntargets:\n  web:\n    host: web1\n    password: new-s3cret\n"
)

// TestConfigDiff prints what replacing OLD by NEW changes: each pool
// setting with its old and new value and what it does to the pool, then
// the keys that wait for a restart, without their values.
func TestConfigDiff(t *testing.T) {
	oldPath, newPath := writeTemp(t, "old.yaml", diffOld), writeTemp(t, "new.yaml", diffNew)
	code, stdout, stderr := runCLI(t, "config", "diff", oldPath, newPath)
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	want := `pool (a reload applies it):
  pool.max_connections: 20 → 10
  pool.max_lifetime: "0s" → "1h0m0s"
  pool.max_sessions_per_connection: 8 → 4
  sessions per connection resized: new leases see the new bound at once; leases held are not touched
  limits lowered: idle connections over them are closed at once, busy ones once idle
  MaxLifetime 0s→1h0m0s applies to connections dialled from now on
restart needed (values not shown):
  admin.addr
  targets.web.password
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if strings.Contains(stdout+stderr, "s3cret") {
		t.Errorf("a password was shown:\n%s%s", stdout, stderr)
	}
	if code, stdout, _ := runCLI(t, "config", "diff", oldPath, oldPath); code != 0 || stdout != "no changes\n" {
		t.Errorf("same file: exit %d, stdout %q", code, stdout)
	}
	// Only another section changed: no pool section in the output.
	other := writeTemp(t, "other.yaml", strings.Replace(diffOld, "host: web1", "host: web2", 1))
	if _, stdout, _ := runCLI(t, "config", "diff", oldPath, other); stdout != "restart needed (values not shown):\n  targets.web.host\n" {
		t.Errorf("another section: stdout %q", stdout)
	}
}

// TestConfigDiffJSON: --json prints the app.ConfigDiff, the same document
// a reload logs (with the live pool's connection counts there).
func TestConfigDiffJSON(t *testing.T) {
	oldPath, newPath := writeTemp(t, "old.yaml", diffOld), writeTemp(t, "new.yaml", diffNew)
	code, stdout, stderr := runCLI(t, "config", "diff", "--json", oldPath, newPath)
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	var d app.ConfigDiff
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	wantChanges := []pool.FieldChange{{Field: "max_connections", Old: "20", New: "10"},
		{Field: "max_lifetime", Old: `"0s"`, New: `"1h0m0s"`}, {Field: "max_sessions_per_connection", Old: "8", New: "4"}}
	if !reflect.DeepEqual(d.Pool.Changes, wantChanges) || !d.Pool.SessionsResized || len(d.Pool.Notes) != 1 ||
		!reflect.DeepEqual(d.Applied, []string{"pool.max_connections", "pool.max_lifetime", "pool.max_sessions_per_connection"}) ||
		!reflect.DeepEqual(d.Pending, []string{"admin.addr", "targets.web.password"}) {
		t.Errorf("diff = %+v", d)
	}
	if strings.Contains(stdout, "s3cret") {
		t.Errorf("a password was shown:\n%s", stdout)
	}
}

// TestConfigDiffRefusesBadFiles: a file with problems is reported, naming
// the file, line and key, and exits 1; a missing argument is a usage error.
func TestConfigDiffRefusesBadFiles(t *testing.T) {
	good := writeTemp(t, "good.yaml", diffOld)
	bad := writeTemp(t, "bad.yaml", "pool:\n  max_connections: -1\n")
	for _, args := range [][]string{{good, bad}, {bad, good}} {
		code, stdout, stderr := runCLI(t, append([]string{"config", "diff"}, args...)...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "bad.yaml:2: pool.max_connections = -1") {
			t.Errorf("diff %v: exit %d, stdout %q, stderr %s", args, code, stdout, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "config", "diff", good); code != 2 || !strings.Contains(stderr, "accepts 2 arg(s)") {
		t.Errorf("one argument: exit %d, stderr %s", code, stderr)
	}
}
