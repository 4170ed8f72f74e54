package faultproxy_test

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
	"github.com/sshpool/sshpool/internal/sshdtest"
)

// TestSSHD runs the faults against a real OpenSSH sshd, one server for all
// subtests; each subtest heals the proxy when it ends.
func TestSSHD(t *testing.T) {
	srv := sshdtest.Start(t)
	px := faultproxy.Start(t, srv.Addr())
	dialSSHD := func(t *testing.T) *ssh.Client {
		t.Helper()
		client, _ := dialCounting(t, px.Addr(), srv.ClientConfig())
		return client
	}
	heal := func(t *testing.T) {
		t.Cleanup(func() {
			if err := px.Heal(); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("command", func(t *testing.T) {
		if out, err := run(t, dialSSHD(t), "echo hello"); err != nil || out != "hello\n" {
			t.Fatalf("echo hello = %q, %v", out, err)
		}
	})
	t.Run("latency", func(t *testing.T) {
		heal(t)
		const latency = 100 * time.Millisecond
		client := dialSSHD(t)
		if _, err := px.AddLatency(latency, 0, faultproxy.Downstream); err != nil {
			t.Fatal(err)
		}
		if rtt, err := roundTrip(t, client); err != nil || rtt < latency {
			t.Fatalf("keepalive = %v, %v; want >= %v", rtt, err, latency)
		}
	})
	t.Run("stall", func(t *testing.T) {
		heal(t)
		client := dialSSHD(t)
		if _, err := px.Stall(faultproxy.Both); err != nil {
			t.Fatal(err)
		}
		expectStalledUntilHeal(t, px, client)
		if out, err := run(t, dialSSHD(t), "echo healed"); err != nil || out != "healed\n" {
			t.Fatalf("after Heal: %q, %v", out, err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		heal(t)
		client := dialSSHD(t)
		if _, err := px.ResetPeer(faultproxy.Upstream); err != nil {
			t.Fatal(err)
		}
		if _, err := run(t, client, "echo never"); err == nil {
			t.Error("command succeeded across a reset")
		}
		waitClosed(t, client)
	})
	t.Run("disable", func(t *testing.T) {
		heal(t)
		client := dialSSHD(t)
		if err := px.Disable(); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, client)
		_, err := ssh.Dial("tcp", px.Addr(), srv.ClientConfig())
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial while disabled: %v, want ECONNREFUSED", err)
		}
		if err := px.Enable(); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, dialSSHD(t), "echo up"); err != nil || out != "up\n" {
			t.Fatalf("after Enable: %q, %v", out, err)
		}
	})
	t.Run("restart", func(t *testing.T) {
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, dialSSHD(t), "echo restarted"); err != nil || out != "restarted\n" {
			t.Fatalf("after sshd restart: %q, %v", out, err)
		}
	})
}
