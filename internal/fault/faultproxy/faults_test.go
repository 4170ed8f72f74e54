package faultproxy_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
)

func TestLatencyDelaysRoundTrip(t *testing.T) {
	const latency = 100 * time.Millisecond
	tests := []struct {
		dir  faultproxy.Direction
		want time.Duration
	}{
		{faultproxy.Downstream, latency},
		{faultproxy.Upstream, latency},
		{faultproxy.Both, 2 * latency},
	}
	for _, tt := range tests {
		t.Run("dir="+tt.dir.String(), func(t *testing.T) {
			srv, px := setup(t)
			client := dial(t, srv, px)
			f, err := px.AddLatency(latency, 0, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			rtt, err := roundTrip(t, client)
			if err != nil {
				t.Fatal(err)
			}
			if rtt < tt.want {
				t.Errorf("keepalive round trip %v, want >= %v", rtt, tt.want)
			}
			if err := f.Remove(); err != nil {
				t.Fatal(err)
			}
			if err := f.Remove(); err != nil {
				t.Fatalf("second Remove: %v", err)
			}
			if out, err := run(t, client, "echo ok"); err != nil || out != "ok\n" {
				t.Fatalf("after Remove: %q, %v", out, err)
			}
		})
	}
}

func TestLatencyAppliesToNewConnections(t *testing.T) {
	const latency = 50 * time.Millisecond
	srv, px := setup(t)
	if _, err := px.AddLatency(latency, 10*time.Millisecond, faultproxy.Downstream); err != nil {
		t.Fatal(err)
	}
	client := dial(t, srv, px)
	if rtt, err := roundTrip(t, client); err != nil || rtt < latency-10*time.Millisecond {
		t.Fatalf("keepalive = %v, %v; want >= %v", rtt, err, latency-10*time.Millisecond)
	}
}

func TestStallBlocksAndHealRestores(t *testing.T) {
	for _, dir := range []faultproxy.Direction{faultproxy.Upstream, faultproxy.Downstream, faultproxy.Both} {
		t.Run("dir="+dir.String(), func(t *testing.T) {
			srv, px := setup(t)
			client := dial(t, srv, px)
			if _, err := px.Stall(dir); err != nil {
				t.Fatal(err)
			}
			expectStalledUntilHeal(t, px, client)
			waitClosed(t, client)
			if out, err := run(t, dial(t, srv, px), "echo healed"); err != nil || out != "healed\n" {
				t.Fatalf("after Heal: %q, %v", out, err)
			}
		})
	}
}

func TestStallKeepsTCPOpen(t *testing.T) {
	srv, px := setup(t)
	if _, err := px.Stall(faultproxy.Both); err != nil {
		t.Fatal(err)
	}
	// A new connection is accepted (TCP is up) but the SSH handshake never
	// completes: no banner comes back. ssh.Dial's Timeout bounds only the
	// TCP connect, so the handshake is bounded by a deadline on the conn.
	nc, err := net.DialTimeout("tcp", px.Addr(), waitFor)
	if err != nil {
		t.Fatalf("TCP dial through stalled proxy: %v", err)
	}
	defer nc.Close()
	start := time.Now()
	nc.SetDeadline(start.Add(stallWindow))
	_, _, _, err = ssh.NewClientConn(nc, px.Addr(), srv.ClientConfig("alice"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("handshake through stalled proxy: %v, want a timeout", err)
	}
	if d := time.Since(start); d < stallWindow {
		t.Errorf("handshake failed after %v, before its %v deadline", d, stallWindow)
	}
}

func TestResetPeerEndsRunningCommand(t *testing.T) {
	srv, px := setup(t)
	client := dial(t, srv, px)
	sess := streamYes(t, client)
	f, err := px.ResetPeer(faultproxy.Downstream)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, client)
	if err := sess.Wait(); err == nil {
		t.Error("command succeeded across a reset")
	}
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, dial(t, srv, px), "echo back"); err != nil || out != "back\n" {
		t.Fatalf("after Remove: %q, %v", out, err)
	}
}

func TestResetPeerSendsRST(t *testing.T) {
	srv, px := setup(t)
	if _, err := px.ResetPeer(faultproxy.Both); err != nil {
		t.Fatal(err)
	}
	_, err := ssh.Dial("tcp", px.Addr(), srv.ClientConfig("alice"))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("dial through resetting proxy: %v, want ECONNRESET", err)
	}
	px.RemoveAll()
	if out, err := run(t, dial(t, srv, px), "echo back"); err != nil || out != "back\n" {
		t.Fatalf("after RemoveAll: %q, %v", out, err)
	}
}

func TestResetPeerLeavesIdleConnections(t *testing.T) {
	srv, px := setup(t)
	client := dial(t, srv, px)
	f, err := px.ResetPeer(faultproxy.Both)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, client, "echo idle"); err != nil || out != "idle\n" {
		t.Fatalf("idle connection after ResetPeer removed: %q, %v", out, err)
	}
}

func TestLimitBandwidthSlowsTransfer(t *testing.T) {
	const rate = 400 // KB/s
	srv, px := setup(t)
	client, cc := dialCounting(t, px.Addr(), srv.ClientConfig("alice"))
	if _, err := px.LimitBandwidth(rate, faultproxy.Downstream); err != nil {
		t.Fatal(err)
	}
	before := cc.read.Load()
	start := time.Now()
	out, err := run(t, client, "yes 20000")
	elapsed := time.Since(start)
	if err != nil || len(out) != 40000 {
		t.Fatalf("yes 20000: %d bytes, %v", len(out), err)
	}
	// Every byte the client read went through the toxic; allow the first
	// 100 ms chunk of slack in toxiproxy's pacing.
	n := cc.read.Load() - before
	want := time.Duration(n)*time.Second/(rate*1000) - 100*time.Millisecond
	t.Logf("%d bytes on the wire in %v (limit %d KB/s)", n, elapsed, rate)
	if elapsed < want {
		t.Errorf("transfer of %d bytes took %v, want >= %v at %d KB/s", n, elapsed, want, rate)
	}
}

func TestFaultArguments(t *testing.T) {
	_, px := setup(t)
	if _, err := px.AddLatency(time.Millisecond, 0, 0); !errors.Is(err, faultproxy.ErrDirection) {
		t.Errorf("AddLatency with direction 0: %v, want ErrDirection", err)
	}
	if _, err := px.Stall(faultproxy.Direction(7)); !errors.Is(err, faultproxy.ErrDirection) {
		t.Errorf("Stall with direction 7: %v, want ErrDirection", err)
	}
	if _, err := px.LimitBandwidth(0, faultproxy.Both); err == nil {
		t.Error("LimitBandwidth(0) succeeded")
	}
}

// TestRemoveAfterRemoveAll: Remove after RemoveAll is a no-op and the
// latency is gone. The latency is far beyond roundTrip's bound, so a
// keepalive that still met it fails the test whatever the machine's speed.
func TestRemoveAfterRemoveAll(t *testing.T) {
	srv, px := setup(t)
	client := dial(t, srv, px)
	f, err := px.AddLatency(10*waitFor, 0, faultproxy.Both)
	if err != nil {
		t.Fatal(err)
	}
	px.RemoveAll()
	if err := f.Remove(); err != nil {
		t.Fatalf("Remove after RemoveAll: %v", err)
	}
	if _, err := roundTrip(t, client); err != nil {
		t.Fatalf("keepalive after RemoveAll: %v", err)
	}
}

// TestForgetConnections: a forgotten connection stays up while idle, is
// reset by its next request, and new connections work meanwhile.
func TestForgetConnections(t *testing.T) {
	srv, px := setup(t)
	old := dial(t, srv, px)
	if n := px.ForgetConnections(); n != 1 {
		t.Fatalf("ForgetConnections = %d, want 1", n)
	}
	ended := make(chan struct{})
	go func() { _ = old.Wait(); close(ended) }()
	select {
	case <-ended:
		t.Fatal("an idle forgotten connection ended before carrying data")
	case <-time.After(stallWindow):
	}
	if out, err := run(t, dial(t, srv, px), "echo new"); err != nil || out != "new\n" {
		t.Fatalf("new connection after ForgetConnections: %q, %v", out, err)
	}
	before := srv.Stats().Execs
	if _, err := old.NewSession(); err == nil {
		t.Fatal("session opened on a forgotten connection")
	}
	waitClosed(t, old)
	if !errors.Is(old.Wait(), syscall.ECONNRESET) {
		t.Errorf("forgotten connection ended with %v, want ECONNRESET", old.Wait())
	}
	if n := srv.Stats().Execs - before; n != 0 {
		t.Errorf("server ran %d commands for the forgotten connection", n)
	}
}
