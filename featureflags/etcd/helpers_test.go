package etcd_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
	"github.com/sshpool/sshpool/legacy"
)

// routingDoc returns a flag document with kill-switch and use-new-pool
// static at the given values.
func routingDoc(kill, newPool bool) string {
	v := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	return fmt.Sprintf(`{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": %q},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": %q}
}}`, v(kill), v(newPool))
}

// ctxT returns a context ending after d or with the test.
func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// sourceConfig returns a source config for srv with short timeouts.
func sourceConfig(srv *etcdtest.Server) etcd.Config {
	cc := srv.ClientConfig()
	return etcd.Config{Endpoints: cc.Endpoints, TLS: cc.TLS, Username: cc.Username, Password: cc.Password,
		DialTimeout: time.Second, RequestTimeout: 2 * time.Second,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
}

// instance is one flag consumer: a source with its own client, a provider
// and an isolated OpenFeature API, started.
type instance struct {
	src      *etcd.Source
	provider *featureflags.Provider
	flags    *featureflags.Flags
}

// startInstance builds and starts an instance on cfg; it is shut down in
// t.Cleanup.
func startInstance(t testing.TB, cfg etcd.Config) *instance {
	t.Helper()
	src, err := etcd.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return startOn(t, src)
}

func startOn(t testing.TB, src *etcd.Source) *instance {
	t.Helper()
	in := startSource(t, src)
	in.src = src
	return in
}

// startSource builds and starts an instance on any source (a wrapped
// etcd source); its src field is nil.
func startSource(t testing.TB, src featureflags.Source) *instance {
	t.Helper()
	p, err := featureflags.NewProvider(src)
	if err != nil {
		t.Fatal(err)
	}
	f := featureflags.NewFlags(p)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	if err := f.Start(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	return &instance{provider: p, flags: f}
}

// routesNew is the router's decision (legacy.Router) for one server.
func (in *instance) routesNew() bool {
	r := legacy.NewRouter(nil, nil, in.flags.Client()) // decides only: no pools
	defer r.Close()
	return r.Decide(context.Background(), &legacy.Server{ID: "s1", Host: "h", Port: 22, Name: "n"}, false).Route == legacy.RouteNew
}

// eventually polls cond every 5 ms until it holds, failing the test after
// d (a hang bound, not a performance goal).
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// put writes doc under key and returns the revision.
func put(t testing.TB, c *clientv3.Client, key, doc string) int64 {
	t.Helper()
	r, err := c.Put(ctxT(t, 10*time.Second), key, doc)
	if err != nil {
		t.Fatal(err)
	}
	return r.Header.Revision
}

func itoa(n int64) string { return fmt.Sprint(n) }
