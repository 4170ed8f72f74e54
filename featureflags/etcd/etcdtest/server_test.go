package etcdtest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
	"github.com/sshpool/sshpool/internal/testenv"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestStopRestartKeepsData: a crash (SIGKILL) makes requests fail; a
// restart on the same ports serves the same keys at the same revisions.
func TestStopRestartKeepsData(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	ctx := ctxT(t, 30*time.Second)
	put, err := c.Put(ctx, "/k", "v1")
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd server %s", st.Version)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if srv.Running() {
		t.Fatal("Running after Stop")
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = c.Get(short, "/k")
	cancel()
	if err == nil {
		t.Fatal("Get succeeded while etcd was stopped")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	g, err := c.Get(ctx, "/k")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "v1" || g.Kvs[0].ModRevision != put.Header.Revision {
		t.Fatalf("after restart: %v", g.Kvs)
	}
}

// TestTLS: a server started WithTLS serves https with client certificates;
// a client without one is refused.
func TestTLS(t *testing.T) {
	srv := etcdtest.Start(t, etcdtest.WithTLS())
	if srv.Endpoint()[:8] != "https://" {
		t.Fatalf("endpoint %s", srv.Endpoint())
	}
	ctx := ctxT(t, 30*time.Second)
	if _, err := srv.Client(t).Put(ctx, "/k", "v"); err != nil {
		t.Fatal(err)
	}
	cfg := srv.ClientConfig()
	cfg.TLS.Certificates = nil
	c, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := c.Get(short, "/k"); err == nil {
		t.Fatal("a client without a certificate was served")
	}
}

// TestEnableAuth: after EnableAuth, a client without credentials is
// refused and ClientConfig carries root's.
func TestEnableAuth(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx := ctxT(t, 30*time.Second)
	anon := srv.Client(t)
	if _, err := srv.EnableAuth(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Put(ctx, "/k", "v"); !errors.Is(err, rpctypes.ErrUserEmpty) {
		t.Fatalf("anonymous put after EnableAuth: %v", err)
	}
	if _, err := srv.Client(t).Put(ctx, "/k", "v"); err != nil {
		t.Fatal(err)
	}
}

// TestCloseRemovesFiles: Close stops etcd, removes the directory and is
// idempotent; Stop and Restart then fail.
func TestCloseRemovesFiles(t *testing.T) {
	srv, err := etcdtest.New()
	if errors.Is(err, etcdtest.ErrNotInstalled) {
		testenv.Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := srv.Dir()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory left: %v", err)
	}
	if err := srv.Restart(); !errors.Is(err, etcdtest.ErrClosed) {
		t.Errorf("Restart after Close: %v", err)
	}
	if err := srv.Stop(); !errors.Is(err, etcdtest.ErrClosed) {
		t.Errorf("Stop after Close: %v", err)
	}
}

// TestMissingBinary: New names the missing binary; Start skips the test
// without it, and fails it when CI is "true".
func TestMissingBinary(t *testing.T) {
	missing := etcdtest.WithBinary("/nonexistent/etcd")
	_, err := etcdtest.New(missing)
	if !errors.Is(err, etcdtest.ErrNotInstalled) || !strings.Contains(err.Error(), "/nonexistent/etcd") {
		t.Fatalf("err = %v, want ErrNotInstalled naming the binary", err)
	}
	const msg = "etcd not installed: run apt-get install etcd-server"
	for _, tc := range []struct{ ci, want string }{
		{"", "skip: " + msg},
		{"true", "fatal: " + msg},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			got := testenv.Ending(t, func(tb testing.TB) { etcdtest.Start(tb, missing) })
			if got != tc.want {
				t.Errorf("Start = %q, want %q", got, tc.want)
			}
		})
	}
}
