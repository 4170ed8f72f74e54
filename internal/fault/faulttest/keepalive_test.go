package faulttest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
	"github.com/sshpool/sshpool/sshconn"
)

// TestKeepaliveStalledPeer: a keepalive probe on a connection whose peer
// has stalled (packets accepted, nothing answered) fails with
// ErrKeepaliveTimeout within the target's KeepaliveTimeout and closes the
// client, instead of blocking on the wedged connection.
func TestKeepaliveStalledPeer(t *testing.T) {
	forEachServer(t, func(t *testing.T, kind server) {
		e := newEnv(t, kind, envOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		c, err := e.factory().DialClient(ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.SendKeepalive(ctx); err != nil {
			t.Fatalf("healthy keepalive: %v", err)
		}
		if _, err := e.proxy.Stall(faultproxy.Both); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = c.SendKeepalive(ctx)
		took := time.Since(start)
		if !errors.Is(err, sshconn.ErrKeepaliveTimeout) {
			t.Fatalf("stalled keepalive: %v, want ErrKeepaliveTimeout", err)
		}
		if c.Alive() {
			t.Fatal("the client is still alive after a timed-out probe")
		}
		// The probe is bounded by KeepaliveTimeout (healthTimeout), not by
		// the caller's hangGuard context.
		if took >= hangGuard {
			t.Fatalf("stalled keepalive returned after %v", took)
		}
		t.Logf("stalled keepalive failed after %v (KeepaliveTimeout %v)", took, healthTimeout)
	})
}
