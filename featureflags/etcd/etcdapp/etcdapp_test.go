package etcdapp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdapp"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
)

// server is a legacy server the router decides for (never dialled).
func server() *legacy.Server {
	return &legacy.Server{ID: "web-1", Host: "10.0.0.1", AppUsername: "app"}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const doc = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}}}`

// TestModuleFollowsEtcd: app.Module with Option() and flags.source: etcd
// (TLS from PEM files, the password from a variable) serves the document
// in etcd and follows its changes; /readyz's flags check passes.
func TestModuleFollowsEtcd(t *testing.T) {
	srv := etcdtest.Start(t, etcdtest.WithTLS())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := srv.EnableAuth(ctx); err != nil {
		t.Fatal(err)
	}
	cli := srv.Client(t)
	if _, err := cli.Put(ctx, "/svc/flags", doc); err != nil {
		t.Fatal(err)
	}
	cc := srv.ClientConfig()
	t.Setenv("SVC_ETCD_PW", cc.Password)
	files := srv.TLSFiles()
	c, _ := app.Defaults("")
	c.Admin.Addr = "127.0.0.1:0"
	c.Flags.Source = app.FlagSourceEtcd
	c.Flags.Etcd = app.EtcdSection{Endpoints: srv.Endpoints(), Key: "/svc/flags", Username: "root", PasswordEnv: "SVC_ETCD_PW",
		CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var m *providers.Migration
	var admin *app.Admin
	fxa := fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(c), etcdapp.Option()), fx.Populate(&m, &admin)).RequireStart()
	defer fxa.RequireStop()
	p := m.FlagProvider.(*featureflags.Provider)
	if d := p.Document(); d.Origin != "etcd /svc/flags" || m.Router.Decide(ctx, server(), false).Route != legacy.RouteNew {
		t.Fatalf("document %+v", d)
	}
	if _, err := cli.Put(ctx, "/svc/flags", strings.Replace(doc, `"defaultVariant": "off"`, `"defaultVariant": "on"`, 1)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); m.Router.Decide(ctx, server(), false).Route == legacy.RouteNew; {
		if time.Now().After(deadline) {
			t.Fatal("the kill switch did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := admin.Readiness(); !r.Ready {
		t.Errorf("readiness %+v", r)
	}

	// etcd lost: the flags in force keep routing and the instance stays
	// ready, with the lost source as the flags check's detail.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	var flags app.Check
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(flags.Detail, "changes not arriving"); {
		if time.Now().After(deadline) {
			t.Fatalf("etcd stopped, flags check %+v", flags)
		}
		time.Sleep(10 * time.Millisecond)
		r := admin.Readiness()
		if !r.Ready {
			t.Fatalf("etcd lost made the instance not ready: %+v", r)
		}
		for _, c := range r.Checks {
			if c.Name == "flags" {
				flags = c
			}
		}
	}
	if m.Router.Decide(ctx, server(), false).Route != legacy.RouteLegacy {
		t.Error("losing etcd changed the routing")
	}
}

// TestConfigErrors: a missing password variable and an unreadable CA file
// are errors naming them.
func TestConfigErrors(t *testing.T) {
	f := app.FlagsSection{Source: app.FlagSourceEtcd, Etcd: app.EtcdSection{Endpoints: []string{"127.0.0.1:2379"},
		Username: "u", PasswordEnv: "SSHPOOL_TEST_NO_SUCH_VAR"}}
	if _, err := etcdapp.Source(f, nil); err == nil || !strings.Contains(err.Error(), "SSHPOOL_TEST_NO_SUCH_VAR") {
		t.Errorf("missing variable: %v", err)
	}
	f.Etcd.PasswordEnv, f.Etcd.CAFile = "", "/nonexistent/ca.pem"
	if _, err := etcdapp.Source(f, nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Errorf("missing CA file: %v", err)
	}
	f.Etcd.CAFile = ""
	cfg, err := etcdapp.Config(f, nil)
	if err != nil || cfg.Key != "" || cfg.Endpoints[0] != "127.0.0.1:2379" {
		t.Errorf("config %+v, %v", cfg, err)
	}
	if _, err := etcd.NewSource(cfg); err == nil {
		t.Error("a user without a password should be refused")
	}
}
