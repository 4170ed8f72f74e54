package app_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshpool/sshpool/app"
)

// TestConfigErrorsForHumans: every problem of a load is reported once, by
// config key (never a Go field name), with its value (secrets redacted)
// and where it came from (file:line or the environment variable), under
// one "config: " prefix.
func TestConfigErrorsForHumans(t *testing.T) {
	tests := []struct {
		name, file string
		env        []string
		want       string // the whole message; FILE stands for the file's path
	}{
		{"one problem", "pool:\n  max_connections: -1\n", nil,
			"config: FILE:2: pool.max_connections = -1, want 1..1048576"},
		{"relative range names the other key", "pool:\n  max_connections: 2\n  max_connections_per_key: 3\n", nil,
			"config: FILE:3: pool.max_connections_per_key = 3, want 1..pool.max_connections (2)"},
		{"every problem, in file order", "pool:\n  max_conns: 1\n  wait_timeout: soon\n  debug_leaks: maybe\nadmin:\n  addr: nope\n", nil,
			"config: 4 problems:\n" +
				"\tFILE:2: pool.max_conns = 1, unknown key (did you mean pool.max_connections?)\n" +
				"\tFILE:3: pool.wait_timeout = \"soon\", want a duration such as \"30s\"\n" +
				"\tFILE:4: pool.debug_leaks = \"maybe\", want true or false\n" +
				"\tFILE:6: admin.addr = \"nope\", want host:port (127.0.0.1:9090, \":9090\") or \"off\""},
		{"environment variable named", "", []string{"SSHPOOL_POOL__MAX_CONNECTIONS=-5"},
			"config: env SSHPOOL_POOL__MAX_CONNECTIONS: pool.max_connections = -5, want 1..1048576"},
		{"unknown variable named", "", []string{"SSHPOOL_POOL__MAX_CONECTIONS=5"},
			"config: env SSHPOOL_POOL__MAX_CONECTIONS: pool.max_conections = \"5\", unknown key (did you mean pool.max_connections?)"},
		{"a default in conflict", "pool:\n  health_interval: 10ms\n", nil,
			"config: defaults: pool.health_timeout = 5s, want 1ns..pool.health_interval (10ms)"},
		{"target entry", "targets:\n  db:\n    password: hunter2\n    port: 70000\n", nil,
			"config: 2 problems:\n" +
				"\tFILE:2: targets.db.host: is empty, want a host name or address\n" +
				"\tFILE:4: targets.db.port = 70000, want 0..65535 (0 = 22)"},
		{"secret redacted", "targets:\n  db:\n    host: h\n    password:\n      x: hunter2\n", nil,
			"config: FILE:4: targets.db.password = <redacted>, want a string"},
		{"json lines", "{\"pool\": {\n  \"max_sessions_per_connection\": 5000}}", nil,
			"config: FILE:2: pool.max_sessions_per_connection = 5000, want 1..1024"},
		{"bare number duration", "pool:\n  max_lifetime: 30\n", nil,
			"config: FILE:2: pool.max_lifetime = 30, has no unit: write a duration such as \"30s\" or \"30ms\""},
		{"load balancing", "pool:\n  load_balancing: random\n", nil,
			"config: FILE:2: pool.load_balancing = \"random\", want least-loaded, round-robin or power-of-two"},
		// A file that does not parse, or holds no sections, is located and
		// worded without the Go types it decodes into.
		{"json syntax at its line and column", "{\"pool\": {\n  \"max_connections\": 5,\n}}", nil,
			"config: FILE:3: not valid JSON at column 1: invalid character '}' looking for beginning of object key string"},
		{"json not an object", "[\n  {\"pool\": {}}]", nil,
			"config: FILE:1: want an object of sections such as {\"pool\": {...}}, not an array"},
		{"yaml list", "# sshpool\n- pool\n", nil,
			"config: FILE:2: want sections (key: value lines such as \"pool:\"), not a list"},
		{"yaml syntax", "pool: [\n", nil,
			"config: FILE: yaml: line 1: did not find expected node content"},
		{"a value where a section belongs", "pool: 1\ntargets: 5\n", nil,
			"config: 2 problems:\n" +
				"\tFILE:1: pool = 1, want a section (key: value lines)\n" +
				"\tFILE:2: targets = 5, want a section (key: value lines)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				name := "c.yaml"
				if strings.HasPrefix(tt.file, "{") || strings.HasPrefix(tt.file, "[") {
					name = "c.json"
				}
				path = writeFile(t, name, tt.file)
			}
			_, err := app.LoadWith(app.LoadOptions{Path: path, Env: tt.env})
			want := strings.ReplaceAll(tt.want, "FILE", path)
			if err == nil || err.Error() != want {
				t.Fatalf("error:\n%v\nwant:\n%s", err, want)
			}
			var ce *app.ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("%T is not a *app.ConfigError with problems", err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Count(err.Error(), "config:") != 1 {
				t.Errorf("secret leaked or prefix repeated: %v", err)
			}
		})
	}
}

// TestConfigErrorProblems: the typed error carries key, value and source
// for programs.
func TestConfigErrorProblems(t *testing.T) {
	path := writeFile(t, "c.yaml", "pool:\n  max_connections: -1\n")
	_, err := app.LoadWith(app.LoadOptions{Path: path, Env: []string{"SSHPOOL_ADMIN__ADDR=bad"}})
	var ce *app.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("%v", err)
	}
	want := []app.Problem{
		{Key: "pool.max_connections", Value: "-1", Source: app.Source{File: path, Line: 2}, Msg: "want 1..1048576"},
		{Key: "admin.addr", Value: `"bad"`, Source: app.Source{Env: "SSHPOOL_ADMIN__ADDR"}, Msg: `want host:port (127.0.0.1:9090, ":9090") or "off"`},
	}
	for i, p := range ce.Problems {
		if p != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, p, want[i])
		}
	}
}

// TestUnknownEnvironmentVariables: a variable that addresses a key that
// does not exist is an error naming it; one that cannot address any key
// (no "__", like Kubernetes' service links) is ignored with a warning; the
// kill-switch variable belongs to the flag provider.
func TestUnknownEnvironmentVariables(t *testing.T) {
	var warnings []string
	c, err := app.LoadWith(app.LoadOptions{
		Env:  []string{"SSHPOOL_PORT=tcp://10.0.0.1:22", "SSHPOOL_KILL_SWITCH=true", "SSHPOOL_POOL__MAX_CONNECTIONS=7", "HOME=/root"},
		Warn: func(m string) { warnings = append(warnings, m) },
	})
	if err != nil || c.Pool.MaxConnections != 7 {
		t.Fatalf("%v, %+v", err, c.Pool)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "environment variable SSHPOOL_PORT ignored: it sets no config key") {
		t.Errorf("warnings = %q", warnings)
	}
	_, err = app.LoadWith(app.LoadOptions{Env: []string{"SSHPOOL_BOGUS__KEY=1"}})
	if err == nil || !strings.Contains(err.Error(), "env SSHPOOL_BOGUS__KEY: bogus.key") {
		t.Errorf("unknown section: %v", err)
	}
}

// TestConfigFileBounded: the config file is read through inputfile (a
// regular file, bounded in size).
func TestConfigFileBounded(t *testing.T) {
	_, err := app.LoadWith(app.LoadOptions{Path: filepath.Join(t.TempDir())})
	if err == nil || !strings.Contains(err.Error(), "config:") {
		t.Errorf("a directory: %v", err)
	}
	big := writeFile(t, "big.yaml", "# "+strings.Repeat("x", 2<<20)+"\n")
	if _, err := app.LoadWith(app.LoadOptions{Path: big}); err == nil || !strings.Contains(err.Error(), big) {
		t.Errorf("a 2 MiB file: %v", err)
	}
}

func TestConfigValidateNamesKeys(t *testing.T) {
	c, _ := app.Defaults("")
	c.Pool.MaxSessionsPerConnection = 5000
	err := c.Validate()
	if err == nil || err.Error() != "config: defaults: pool.max_sessions_per_connection = 5000, want 1..1024" {
		t.Errorf("Validate() = %v", err)
	}
}

func TestExportJSONLoadsBack(t *testing.T) {
	c, _ := app.Defaults("production")
	c.Targets = map[string]app.TargetSection{"db": {Host: "db1", Password: "hunter2"}}
	b, err := app.ExportJSON(c)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	if !strings.Contains(out, `"dial_timeout": "15s"`) || strings.Contains(out, "hunter2") || !strings.Contains(out, app.Redacted) {
		t.Fatalf("export:\n%s", out)
	}
	back, err := app.LoadConfig(writeFile(t, "e.json", out), nil)
	if err != nil || back.Pool.DialTimeout != c.Pool.DialTimeout || back.Targets["db"].Host != "db1" {
		t.Fatalf("does not load back: %v", err)
	}
}
