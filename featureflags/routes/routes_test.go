package routes_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/routes"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
	"github.com/sshpool/sshpool/legacy"
)

// flagsDoc routes web-* hosts to the new pool by an allow-list; kill is
// the kill switch's default variant.
func flagsDoc(kill string, allow ...string) string {
	return `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "` + kill + `"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["` + strings.Join(allow, `", "`) + `"]]}, "on", "off"]}}}}`
}

// startFlags starts an isolated API on a flag file with content.
func startFlags(t *testing.T, content string) openfeature.IClient {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := featureflags.NewFileProvider(path)
	if err != nil {
		t.Fatal(err)
	}
	f := featureflags.NewFlags(p)
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Shutdown(context.Background()) })
	return f.Client()
}

func targets(ids ...string) []routes.Target {
	var out []routes.Target
	for _, id := range ids {
		out = append(out, routes.Target{Server: legacy.Server{ID: id, Host: id + ".example.com", AppUsername: "deploy"}})
	}
	return out
}

func TestEvaluate(t *testing.T) {
	client := startFlags(t, flagsDoc("off", "web-1", "web-2"))
	tb := routes.Evaluate(context.Background(), client, targets("web-1", "db-1", "web-2"))
	var got []string
	for _, r := range tb.Rows {
		got = append(got, r.Server+" "+r.Route+" "+r.Reason+" "+r.Variant)
	}
	want := []string{"web-1 new flag-on on", "db-1 legacy flag-off off", "web-2 new flag-on on"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	if tb.Summary != (routes.Summary{Servers: 3, New: 2, Legacy: 1}) {
		t.Errorf("summary %+v", tb.Summary)
	}
	var b strings.Builder
	if err := tb.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"SERVER  HOST                  USER    ROUTE   REASON    VARIANT",
		"db-1    db-1.example.com:22   deploy  legacy  flag-off  off",
		"3 servers: 2 to the new pool, 1 to legacy (0 because evaluation failed)"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, b.String())
		}
	}

	// The kill switch wins; a document without the router's flags falls back.
	killed := routes.Evaluate(context.Background(), startFlags(t, flagsDoc("on", "web-1")), targets("web-1"))
	if r := killed.Rows[0]; r.Route != "legacy" || r.Reason != "kill-switch" {
		t.Errorf("kill switch: %+v", r)
	}
	empty := routes.Evaluate(context.Background(), startFlags(t, `{"flags": {}}`), targets("web-1"))
	if r := empty.Rows[0]; r.Route != "legacy" || r.Reason != "flag-not-found" || r.Error == "" || empty.Summary.Fallbacks != 1 {
		t.Errorf("no flags: %+v %+v", r, empty.Summary)
	}
}

func TestCompare(t *testing.T) {
	before := startFlags(t, flagsDoc("off", "web-1"))
	after := startFlags(t, flagsDoc("off", "web-2", "db-1"))
	d := routes.Compare(context.Background(), before, after, targets("web-1", "web-2", "db-1", "db-2"))
	var got []string
	for _, c := range d.Changes {
		got = append(got, c.New.Server+" "+c.Old.Route+"→"+c.New.Route)
	}
	if want := []string{"web-1 new→legacy", "web-2 legacy→new", "db-1 legacy→new"}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
	want := routes.DiffSummary{Servers: 4, Changed: 3, ToNew: 2, ToLegacy: 1, NewBefore: 1, NewAfter: 2}
	if d.Summary != want {
		t.Errorf("summary %+v, want %+v", d.Summary, want)
	}
	var b strings.Builder
	_ = d.Write(&b)
	if !strings.Contains(b.String(), "web-2   web-2.example.com:22  legacy (flag-off)  new (flag-on)") ||
		!strings.Contains(b.String(), "3 of 4 servers change: 2 legacy→new, 1 new→legacy; new pool 1 → 2 servers") {
		t.Errorf("diff output:\n%s", b.String())
	}
}

func TestLoadServers(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "config.yaml")
	os.WriteFile(yml, []byte("pool: {max_connections: 10}\ntargets:\n  web-1: {host: web1.example.com, user: deploy}\n  db-1: {host: 10.0.0.5, port: 2222, user: dba, identity_files: [k]}\n"), 0o600)
	got, err := routes.LoadServers(yml)
	want := []legacy.Server{
		{ID: "db-1", Name: "db-1", Host: "10.0.0.5", Port: 2222, AppUsername: "dba", RootUsername: "dba"},
		{ID: "web-1", Name: "web-1", Host: "web1.example.com", AppUsername: "deploy", RootUsername: "deploy"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("yaml: %+v, %v", got, err)
	}
	js := filepath.Join(dir, "servers.json")
	os.WriteFile(js, []byte(`{"targets": {"web-1": {"host": "web1.example.com", "user": "deploy"}}}`), 0o600)
	if got, err := routes.LoadServers(js); err != nil || len(got) != 1 || got[0].Host != "web1.example.com" {
		t.Errorf("json: %+v, %v", got, err)
	}
	for name, content := range map[string]string{
		"no targets": "pool: {}\n",
		"no host":    "targets: {web-1: {user: u}}\n",
		"bad port":   "targets: {web-1: {host: h, port: 70000}}\n",
		"syntax":     "targets: [\n",
	} {
		p := filepath.Join(dir, "bad.yaml")
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := routes.LoadServers(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
	fifo := inputfiletest.FIFO(t, filepath.Join(dir, "fifo"))
	zero := inputfiletest.ZeroLink(t, filepath.Join(dir, "zero.yaml"))
	big := inputfiletest.Oversized(t, filepath.Join(dir, "big.yaml"), "targets: {web-1: {host: h}}\n", routes.MaxServersFileBytes)
	for path, want := range map[string]error{fifo: inputfile.ErrNotRegular, zero: inputfile.ErrNotRegular, big: inputfile.ErrTooLarge} {
		if _, err := routes.LoadServers(path); !errors.Is(err, want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v; want %v naming the file", path, err, want)
		}
	}
}

func TestParseServer(t *testing.T) {
	s, err := routes.ParseServer("id=web-1,host=web1.example.com,port=2222,user=deploy,root_user=admin,name=Web 1")
	want := legacy.Server{ID: "web-1", Name: "Web 1", Host: "web1.example.com", Port: 2222, AppUsername: "deploy", RootUsername: "admin"}
	if err != nil || s != want {
		t.Errorf("%+v, %v", s, err)
	}
	for spec, msg := range map[string]string{
		"host=h":                 "no id",
		"id=a":                   "no host",
		"id=a,host=h,port=x":     `port "x" is not a number`,
		"id=a,host=h,colour=red": `unknown key "colour"`,
		"id=a,host":              `"host" is not key=value`,
	} {
		if _, err := routes.ParseServer(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", spec, err, msg)
		}
	}
}
