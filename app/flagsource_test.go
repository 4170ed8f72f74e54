package app_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/providers"
)

const etcdConfig = `
flags:
  source: etcd
  etcd:
    endpoints: ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
    key: /billing/flags
    username: billing
    password: s3cret-etcd-pw
    ca_file: /etc/ssl/etcd-ca.pem
    dial_timeout: 3s
    cache_file: /var/lib/billing/flags.cache
admin:
  addr: 127.0.0.1:0
`

// TestEtcdSourceConfig: flags.source and flags.etcd load from a file,
// the etcd password never reaches the export, and each mistake is an error
// naming its key.
func TestEtcdSourceConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(etcdConfig), 0o600)
	c, err := app.LoadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Flags.Etcd
	if c.Flags.Source != app.FlagSourceEtcd || len(e.Endpoints) != 2 || e.Key != "/billing/flags" ||
		e.Username != "billing" || e.DialTimeout.Seconds() != 3 || e.CacheFile == "" {
		t.Fatalf("flags section %+v", c.Flags)
	}
	out, err := app.Export(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret-etcd-pw") || !strings.Contains(string(out), app.Redacted) {
		t.Errorf("export:\n%s", out)
	}
	if c.Flags.Etcd.Password != "s3cret-etcd-pw" {
		t.Error("Export modified the config")
	}
	for key, edit := range map[string]func(*app.Config){
		"flags.source":            func(c *app.Config) { c.Flags.Source = "consul" },
		"flags.etcd.endpoints":    func(c *app.Config) { c.Flags.Etcd.Endpoints = nil },
		"flags.file":              func(c *app.Config) { c.Flags.File = "/etc/flags.json" },
		"flags.etcd.password_env": func(c *app.Config) { c.Flags.Etcd.PasswordEnv = "PW" },
		"flags.etcd.username":     func(c *app.Config) { c.Flags.Etcd.Username = "" },
		"flags.etcd.dial_timeout": func(c *app.Config) { c.Flags.Etcd.DialTimeout = 3 },
	} {
		bad := c
		edit(&bad)
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v", key, err)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the password is in the error: %v", key, err)
		}
	}
}

// TestModuleEtcdWithoutSource: a config naming the etcd source fails the
// module's construction when the program registered none, saying how to.
func TestModuleEtcdWithoutSource(t *testing.T) {
	c, _ := app.Defaults("")
	c.Admin.Addr = "127.0.0.1:0"
	c.Flags.Source, c.Flags.Etcd.Endpoints = app.FlagSourceEtcd, []string{"127.0.0.1:2379"}
	err := fx.New(fx.NopLogger, app.Module(app.WithConfig(c))).Err()
	if err == nil || !strings.Contains(err.Error(), "built without the etcd flag source") ||
		!strings.Contains(err.Error(), "app.WithFlagSource") {
		t.Fatalf("err = %v", err)
	}
}

// staticSource is a flag source holding one document.
type staticSource struct{ doc string }

func (s staticSource) Name() string { return "static" }
func (s staticSource) Read(context.Context) (featureflags.Document, error) {
	return featureflags.Document{Data: []byte(s.doc), Origin: "etcd /billing/flags", Version: "rev 9"}, nil
}
func (staticSource) Start(context.Context, featureflags.Sink) error { return nil }
func (staticSource) Stop(context.Context) error                     { return nil }

// TestModuleWithFlagSource: the registered function gets the flags
// section and its source feeds the provider; an error it returns fails
// construction, wrapped with the section's key.
func TestModuleWithFlagSource(t *testing.T) {
	c, _ := app.Defaults("")
	c.Admin.Addr = "127.0.0.1:0"
	c.Flags.Source, c.Flags.Etcd.Endpoints, c.Flags.Etcd.Key = app.FlagSourceEtcd, []string{"127.0.0.1:2379"}, "/billing/flags"
	var got app.FlagsSection
	build := func(f app.FlagsSection, _ *slog.Logger) (featureflags.Source, error) {
		got = f
		return staticSource{flagsAllNew}, nil
	}
	var m *providers.Migration
	fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(c), app.WithFlagSource(app.FlagSourceEtcd, build)), fx.Populate(&m)).
		RequireStart().RequireStop()
	if got.Etcd.Key != "/billing/flags" {
		t.Errorf("the function got %+v", got)
	}
	if d := m.FlagProvider.(*featureflags.Provider).Document(); d.Version != "rev 9" {
		t.Errorf("document %+v", d)
	}
	failing := func(app.FlagsSection, *slog.Logger) (featureflags.Source, error) {
		return nil, errors.New("no such CA file")
	}
	err := fx.New(fx.NopLogger, app.Module(app.WithConfig(c), app.WithFlagSource(app.FlagSourceEtcd, failing))).Err()
	if err == nil || !strings.Contains(err.Error(), "config: flags.etcd: no such CA file") {
		t.Errorf("err = %v", err)
	}
}
