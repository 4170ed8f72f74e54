package pool_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// waitEvent returns the first event of type want on ch. The deadline only
// guards against a hang; the test asserts what happened, not how fast.
func waitEvent(t *testing.T, ch <-chan pool.HealthEvent, want ...pool.HealthEventType) pool.HealthEvent {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case ev := <-ch:
			if slices.Contains(want, ev.Type) {
				return ev
			}
		case <-timeout.C:
			t.Fatalf("no %v event", want)
		}
	}
}

// TestIntegrationDropNoticedAtOnce: when the server drops the connection,
// the watcher retires it without a Get or probe, and a new Get succeeds.
func TestIntegrationDropNoticedAtOnce(t *testing.T) {
	be := newSSHTestBackend(t, []string{"a"})
	p := pool.NewPool(be.factory, pool.PoolConfig{HealthInterval: -1, CleanupInterval: -1}, nil)
	defer p.Close()
	events, cancel := p.SubscribeHealth(16)
	defer cancel()
	mustRelease(t, p, "a", mustGet(t, p, "a"))
	be.srv.DropAll()
	ev := waitEvent(t, events, pool.EventLost)
	if ev.Key != "a" || ev.ConnID == 0 {
		t.Errorf("lost event %+v", ev)
	}
	if s := p.GetSnapshot(); s.ClosedByReason[pool.ReasonUnhealthy] != 1 || s.Gets != 1 {
		t.Errorf("closed unhealthy=%d gets=%d: retired before any Get", s.ClosedByReason[pool.ReasonUnhealthy], s.Gets)
	}
	if res, err := p.Run(context.Background(), "a", "echo back"); err != nil || string(res.Stdout) != "back\n" {
		t.Fatalf("Run after drop = %q, %v", res.Stdout, err)
	}
}

// TestIntegrationStallDetectedByHealthLoop: the health loop's keepalive
// to a stalled server times out, the client is closed and the connection
// retired; after Unstall a Get gets a fresh connection.
func TestIntegrationStallDetectedByHealthLoop(t *testing.T) {
	be := newSSHTestBackend(t, []string{"a"})
	cfg := pool.PoolConfig{HealthInterval: 100 * time.Millisecond, HealthTimeout: 50 * time.Millisecond,
		CleanupInterval: -1, DialTimeout: time.Second}
	p := pool.NewPool(be.factory, cfg, nil)
	defer p.Close()
	events, cancel := p.SubscribeHealth(16)
	defer cancel()
	c := mustGet(t, p, "a")
	id := pool.ConnID(c)
	mustRelease(t, p, "a", c)
	be.srv.Stall()
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The timed-out probe closed the client: the probe's failure and the
	// retirement (by the probe or, first, by the watcher) arrive in either
	// order.
	var probed, retired bool
	for !probed || !retired {
		ev := waitEvent(t, events, pool.EventProbeFailed, pool.EventUnhealthy, pool.EventLost)
		if ev.ConnID != id {
			t.Fatalf("event %+v, want conn %d", ev, id)
		}
		if ev.Type == pool.EventProbeFailed {
			probed = true
			if failure.Classify(ev.Err) != failure.Timeout {
				t.Errorf("probe error %v, want a timeout", ev.Err)
			}
			continue
		}
		retired = true
	}
	be.srv.Unstall()
	c = mustGet(t, p, "a")
	if pool.ConnID(c) == id {
		t.Error("stalled connection leased again")
	}
	if _, err := c.Run(context.Background(), "true"); err != nil {
		t.Errorf("Run on the new connection = %v", err)
	}
	mustRelease(t, p, "a", c)
}

// TestIntegrationAuthFailureOpensCircuit: one authentication failure
// opens the key's circuit: exactly one dial attempt reaches the server,
// later Gets fail fast with ErrCircuitOpen (still classified as auth).
func TestIntegrationAuthFailureOpensCircuit(t *testing.T) {
	srv := sshtest.NewServer(t)
	srv.FailAuth(true)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := sshconn.NewRegistry()
	reg.Register("a", sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: "alice",
		Auth: sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}}, KnownHostsFiles: []string{kh}})
	var attempts atomic.Int64
	f := sshconn.NewFactory(reg, sshconn.WithAttemptHook(func(string, int, error) { attempts.Add(1) }))
	p := pool.NewPool(f, pool.PoolConfig{HealthInterval: -1, CleanupInterval: -1}, nil)
	defer p.Close()
	_, err := p.Get(context.Background(), "a")
	if failure.Classify(err) != failure.Auth {
		t.Fatalf("first Get = %v, want auth", err)
	}
	for range 5 {
		_, err = p.Get(context.Background(), "a")
		if !errors.Is(err, pool.ErrCircuitOpen) || failure.Classify(err) != failure.Auth {
			t.Fatalf("Get = %v, want circuit open (auth)", err)
		}
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("dial attempts = %d, want 1", n)
	}
	if rep := p.HealthCheck(context.Background()); rep.Status != pool.StatusUnhealthy {
		t.Errorf("report %+v, want unhealthy", rep)
	}
}
