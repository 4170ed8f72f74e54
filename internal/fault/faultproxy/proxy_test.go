package faultproxy_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
	"github.com/sshpool/sshpool/sshtest"
)

func TestForwardsCommands(t *testing.T) {
	srv, px := setup(t)
	if px.Upstream() != srv.Addr() {
		t.Errorf("Upstream() = %q, want %q", px.Upstream(), srv.Addr())
	}
	if host, _, err := net.SplitHostPort(px.Addr()); err != nil || host != "127.0.0.1" {
		t.Errorf("Addr() = %q, want 127.0.0.1:port", px.Addr())
	}
	client := dial(t, srv, px)
	out, err := run(t, client, "echo hello")
	if err != nil || out != "hello\n" {
		t.Fatalf("echo hello = %q, %v", out, err)
	}
	if _, err := roundTrip(t, client); err != nil {
		t.Fatalf("keepalive: %v", err)
	}
}

func TestDisableRefusesAndEnableRestores(t *testing.T) {
	srv, px := setup(t)
	client := dial(t, srv, px)
	if err := px.Disable(); err != nil {
		t.Fatal(err)
	}
	if px.Enabled() {
		t.Error("Enabled() = true after Disable")
	}
	waitClosed(t, client)
	_, err := ssh.Dial("tcp", px.Addr(), srv.ClientConfig("alice"))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while disabled: %v, want ECONNREFUSED", err)
	}
	if err := px.Disable(); err != nil {
		t.Fatalf("second Disable: %v", err)
	}
	if err := px.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := px.Enable(); err != nil {
		t.Fatalf("second Enable: %v", err)
	}
	if out, err := run(t, dial(t, srv, px), "echo back"); err != nil || out != "back\n" {
		t.Fatalf("after Enable: %q, %v", out, err)
	}
}

func TestCutConnections(t *testing.T) {
	srv, px := setup(t)
	client := dial(t, srv, px)
	if err := px.CutConnections(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, client)
	if !px.Enabled() {
		t.Fatal("Enabled() = false after CutConnections")
	}
	if out, err := run(t, dial(t, srv, px), "echo again"); err != nil || out != "again\n" {
		t.Fatalf("after CutConnections: %q, %v", out, err)
	}
}

func TestSetUpstream(t *testing.T) {
	srv1, px := setup(t)
	old := dial(t, srv1, px)
	srv2 := sshtest.NewServer(t, sshtest.WithHostname("second"))
	if err := px.SetUpstream(srv2.Addr()); err != nil {
		t.Fatal(err)
	}
	if px.Upstream() != srv2.Addr() {
		t.Errorf("Upstream() = %q, want %q", px.Upstream(), srv2.Addr())
	}
	if out, err := run(t, old, "hostname"); err != nil || out == "second\n" {
		t.Errorf("hostname via old connection = %q, %v; want the first server", out, err)
	}
	out, err := run(t, dial(t, srv2, px), "hostname")
	if err != nil || out != "second\n" {
		t.Fatalf("hostname via new upstream = %q, %v", out, err)
	}
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	srv := sshtest.NewServer(t)
	px, err := faultproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	client := dial(t, srv, px)
	px.Close()
	waitClosed(t, client)
	px.Close()
	for name, f := range map[string]func() error{
		"Enable": px.Enable, "Disable": px.Disable, "CutConnections": px.CutConnections,
		"SetUpstream": func() error { return px.SetUpstream(srv.Addr()) },
	} {
		if err := f(); !errors.Is(err, faultproxy.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

// TestCloseWithTrafficInFlight closes the proxy while a throttled,
// delayed transfer is running; goleak in TestMain checks that toxiproxy's
// goroutines have all ended.
func TestCloseWithTrafficInFlight(t *testing.T) {
	srv := sshtest.NewServer(t)
	px, err := faultproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	client := dial(t, srv, px)
	if _, err := px.AddLatency(5*time.Millisecond, time.Millisecond, faultproxy.Both); err != nil {
		t.Fatal(err)
	}
	if _, err := px.LimitBandwidth(200, faultproxy.Downstream); err != nil {
		t.Fatal(err)
	}
	streamYes(t, client)
	px.Close()
	waitClosed(t, client)
}
