package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshtest"
)

func TestConfigStoreBadReloadKeepsOldConfig(t *testing.T) {
	path := writeFile(t, "c.yaml", "pool:\n  max_connections: 10\n")
	opts := app.LoadOptions{Path: path}
	c, err := app.LoadWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := app.NewConfigStore(c, opts)
	os.WriteFile(path, []byte("pool:\n  max_connections: -5\n"), 0o600)
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "c.yaml:2: pool.max_connections = -5") {
		t.Fatalf("bad reload: %v", err)
	}
	if s.Current().Pool.MaxConnections != 10 {
		t.Fatalf("bad reload replaced the config: %+v", s.Current().Pool)
	}
	// A key removed from the file goes back to its default: each reload
	// starts from a fresh koanf.
	os.WriteFile(path, []byte("pool:\n  wait_timeout: 1s\n"), 0o600)
	got, err := s.Reload()
	if err != nil || got.Pool.MaxConnections != 100 || s.Current().Pool.WaitTimeout.String() != "1s" {
		t.Fatalf("good reload: %+v, %v", got.Pool, err)
	}
}

func TestConfigStoreApplyPool(t *testing.T) {
	path := writeFile(t, "c.yaml", "pool:\n  max_connections: 10\n")
	opts := app.LoadOptions{Path: path}
	c, _ := app.LoadWith(opts)
	pc := c.Providers(nil)
	p, cleanup, err := sshpool.InitializePool(pc)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	s := app.NewConfigStore(c, opts)
	os.WriteFile(path, []byte("pool:\n  max_connections: 20\nadmin:\n  addr: 127.0.0.1:9999\n"), 0o600)
	r, err := s.ApplyPool(p)
	if err != nil || p.Config().MaxConnections != 20 {
		t.Fatalf("apply: %v, live max %d", err, p.Config().MaxConnections)
	}
	// The pool section is in force; the admin address waits for a restart.
	if fmt.Sprint(r.Applied) != "[pool.max_connections]" || fmt.Sprint(r.Pending) != "[admin.addr]" ||
		s.Current().Pool.MaxConnections != 20 || s.Current().Admin.Addr != c.Admin.Addr || r.InForce.Admin.Addr != c.Admin.Addr {
		t.Fatalf("result %+v, current admin %q", r, s.Current().Admin.Addr)
	}
	os.WriteFile(path, []byte("pool:\n  max_connections: 20\n  bogus: 1\n"), 0o600)
	if _, err := s.ApplyPool(p); err == nil || p.Config().MaxConnections != 20 || s.Current().Pool.MaxConnections != 20 {
		t.Fatalf("bad apply: %v", err)
	}
}

func TestExportRedactsSecretsAndRoundTrips(t *testing.T) {
	c, _ := app.Defaults("production")
	c.Targets = map[string]app.TargetSection{"db": {Host: "db1", Password: "hunter2", PasswordEnv: "DB_PW"}}
	b, err := app.Export(c)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{"max_connections:", "dial_timeout: 15s", "password: " + app.Redacted, "password_env: DB_PW"} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Fatalf("export leaks the password:\n%s", out)
	}
	if c.Targets["db"].Password != "hunter2" {
		t.Error("Export modified its argument")
	}
	back, err := app.LoadConfig(writeFile(t, "e.yaml", out), nil)
	if err != nil || back.Pool.MaxConnections != c.Pool.MaxConnections || back.Pool.DialTimeout != c.Pool.DialTimeout {
		t.Fatalf("exported config does not load back: %v", err)
	}
}

// TestConfigReloadRetriesOpenCircuits: a reloaded config may fix what made
// a server's dials fail, so an applied reload lets the next call dial at
// once instead of waiting for the circuit's trial; a refused reload does
// not.
func TestConfigReloadRetriesOpenCircuits(t *testing.T) {
	const cfg = "pool:\n  circuit_base_cooldown: 1m\n  circuit_cooldown: 1m\n"
	path := writeFile(t, "c.yaml", cfg)
	opts := app.LoadOptions{Path: path}
	c, err := app.LoadWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	pc := c.Pool.PoolConfig()
	errAuth := failure.New("test: auth refused", failure.Auth)
	var dials atomic.Int64
	p := pool.NewPool(pool.ConnectionFactoryFunc(func(context.Context, string) (pool.SSHClient, error) {
		dials.Add(1)
		return nil, errAuth
	}), pc, nil)
	defer p.Close()
	get := func() error {
		_, err := p.Get(context.Background(), "k")
		return err
	}
	if err := get(); !errors.Is(err, errAuth) {
		t.Fatalf("Get = %v", err)
	}
	s := app.NewConfigStore(c, opts)
	os.WriteFile(path, []byte(cfg+"  bogus: 1\n"), 0o600)
	if _, err := s.ApplyPool(p); err == nil {
		t.Fatal("a bad config applied")
	}
	if err := get(); !errors.Is(err, pool.ErrCircuitOpen) || dials.Load() != 1 {
		t.Fatalf("after a refused reload: Get = %v, %d dials; want circuit open, 1 dial", err, dials.Load())
	}
	os.WriteFile(path, []byte(cfg), 0o600)
	if _, err := s.ApplyPool(p); err != nil {
		t.Fatal(err)
	}
	if err := get(); errors.Is(err, pool.ErrCircuitOpen) || dials.Load() != 2 {
		t.Errorf("after a reload: Get = %v, %d dials; want a new dial", err, dials.Load())
	}
}

// TestApplyPoolReportsImpact: a reload reports what it does to the live
// pool, planned over its connections just before it applied: an idle
// connection over the lowered per-key limit closed, sessions resized, the
// keys applied and those waiting for a restart. Its log line says so and
// never shows a secret that changed.
func TestApplyPoolReportsImpact(t *testing.T) {
	srv := sshtest.NewServer(t)
	dir := t.TempDir()
	key, known, err := srv.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	file := func(perKey, sessions int, password string) string {
		return fmt.Sprintf("pool:\n  max_connections_per_key: %d\n  max_sessions_per_connection: %d\n"+
			"  warmup_keys: [web]\n  warmup_connections: %d\n"+
			"targets:\n  web:\n    host: %s\n    port: %d\n    user: deploy\n    identity_files: [%s]\n"+
			"    known_hosts: [%s]\n    password: %s\n", perKey, sessions, perKey, srv.Host(), srv.Port(), key, known, password)
	}
	path := writeFile(t, "c.yaml", file(2, 4, "old-s3cret"))
	opts := app.LoadOptions{Path: path}
	c, err := app.LoadWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	pc := c.Providers(nil)
	p, cleanup, err := sshpool.InitializePool(pc)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Warmup(ctx); err != nil || len(p.Entries()) != 2 {
		t.Fatalf("warm-up: %v, %d connections", err, len(p.Entries()))
	}
	lease, err := p.Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release("web", lease)

	os.WriteFile(path, []byte(file(1, 2, "new-s3cret")), 0o600)
	s := app.NewConfigStore(c, opts)
	r, err := s.ApplyPool(p)
	if err != nil {
		t.Fatal(err)
	}
	want := pool.ConfigImpact{CloseIdle: 1, SessionsResized: true, Changes: []pool.FieldChange{
		{Field: "max_connections_per_key", Old: "2", New: "1"},
		{Field: "max_sessions_per_connection", Old: "4", New: "2"},
		{Field: "warmup_connections", Old: "2", New: "1"}}}
	if !reflect.DeepEqual(r.Pool, want) {
		t.Errorf("impact = %+v\nwant %+v", r.Pool, want)
	}
	if fmt.Sprint(r.Applied) != "[pool.max_connections_per_key pool.max_sessions_per_connection pool.warmup_connections]" ||
		fmt.Sprint(r.Pending) != "[targets.web.password]" {
		t.Errorf("applied %v, pending %v", r.Applied, r.Pending)
	}
	if n := len(p.Entries()); n != 1 {
		t.Errorf("%d connections after the reload, want the busy one", n)
	}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config reloaded", "diff", r.ConfigDiff)
	line := buf.String()
	for _, want := range []string{"diff.close_idle=1", "diff.over_limit_busy=0", "diff.sessions_resized=true",
		"max_connections_per_key 2→1 ", "diff.pending_restart=[targets.web.password]"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s:\n%s", want, line)
		}
	}
	if strings.Contains(line, "s3cret") {
		t.Errorf("log line shows a password:\n%s", line)
	}
}

// TestTargetPasswordEnv: a target's password_env becomes the dial's
// sshconn.Auth.PasswordEnv (read at dial time, where authentication
// lives); a literal password a static secret. Neither shows in the
// target's printed form.
func TestTargetPasswordEnv(t *testing.T) {
	c, _ := app.Defaults("")
	c.Targets = map[string]app.TargetSection{"db": {Host: "db1", PasswordEnv: "DB_PW"},
		"web": {Host: "web1", Password: "hunter2"}}
	pc := c.Providers(nil)
	db, web := pc.Targets["db"], pc.Targets["web"]
	if db.Auth.PasswordEnv != "DB_PW" || db.Auth.Secrets != nil {
		t.Errorf("db auth = %#v, want PasswordEnv DB_PW", db.Auth)
	}
	if web.Auth.Secrets == nil || web.Auth.PasswordEnv != "" {
		t.Errorf("web auth = %#v, want a static secret", web.Auth)
	}
	if s := fmt.Sprintf("%v %+v %#v", db, web, web); strings.Contains(s, "hunter2") {
		t.Errorf("a target prints its password: %s", s)
	}
}
