package etcd_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
)

// TestWatchCancelledByServer: etcd cancels the source's watch with a
// reason — here the reader's permission on the key is revoked between the
// source's read and its watch, so etcd answers the watch request with a
// cancellation ("etcdserver: permission denied"), as it does for a watch
// it will not serve. The source keeps the flags in force, reports itself
// not connected with the reason, and retries; once it may read the key
// again it reads it afresh, delivers the document published while its
// watch was gone, and follows later changes with a new watch.
func TestWatchCancelledByServer(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx := ctxT(t, time.Minute)
	if _, err := srv.EnableAuth(ctx); err != nil {
		t.Fatal(err)
	}
	root := srv.Client(t)
	put(t, root, etcd.DefaultKey, routingDoc(false, true))
	addReader(t, root, "svc", "reader-secret-1")

	cfg := sourceConfig(srv)
	cfg.Username, cfg.Password = "svc", "reader-secret-1"
	src, err := etcd.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	revoked := make(chan struct{})
	var once sync.Once
	etcd.SetAfterRead(src, func() {
		once.Do(func() {
			defer close(revoked)
			if _, err := root.RoleRevokePermission(ctx, "flag-reader", etcd.DefaultKey, ""); err != nil {
				t.Error(err)
			}
		})
	})
	rec := &healthRecorder{Source: src}
	in := startSource(t, rec)
	<-revoked

	// The cancellation is what the source reports first: its watch, with
	// etcd's reason (then its reads are refused as well).
	eventually(t, hang, "the cancelled watch was not reported", func() bool {
		_, ok := rec.reported("watch "+etcd.DefaultKey, rpctypes.ErrPermissionDenied.Error())
		return ok
	})
	if h := in.provider.Stats().Health; h.Connected {
		t.Errorf("health %+v after the watch was cancelled, want not connected", h)
	}
	if !in.routesNew() {
		t.Fatal("a cancelled watch changed the routing")
	}

	// Published while the source has no watch: it must arrive by the
	// re-read, not by a watch event.
	rev := put(t, root, etcd.DefaultKey, routingDoc(true, true))
	time.Sleep(100 * time.Millisecond) // several retries, all refused
	if !in.routesNew() {
		t.Fatal("the source delivered a document it may not read")
	}
	if _, err := root.RoleGrantPermission(ctx, "flag-reader", etcd.DefaultKey, "", clientv3.PermissionType(authpb.READ)); err != nil {
		t.Fatal(err)
	}
	eventually(t, hang, "the document published while the watch was cancelled did not arrive", func() bool {
		return !in.routesNew() && in.provider.Stats().Health.Connected
	})
	if d := in.provider.Document(); d.Version != "rev "+itoa(rev) {
		t.Errorf("version %q, want rev %d", d.Version, rev)
	}
	put(t, root, etcd.DefaultKey, routingDoc(false, true))
	eventually(t, hang, "a change after the new watch started did not arrive", in.routesNew)
	if err := in.provider.LastError(); err != nil && !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Errorf("last error %v", err)
	}
}
