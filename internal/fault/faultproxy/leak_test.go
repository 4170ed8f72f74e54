package faultproxy_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
)

// The regression tests below are named for toxiproxy v2.5.0 defects that
// leave link goroutines blocked on channel sends once a connection ends
// with data in flight (see the package documentation). Each checks, before
// the proxy is closed, that every goroutine the connection started ends.

func TestLeakWriterFailsWithDataInFlight(t *testing.T) {
	srv, px := setup(t)
	if _, err := px.AddLatency(0, 0, faultproxy.Downstream); err != nil {
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()
	client := dial(t, srv, px)
	streamYes(t, client)
	client.Close() // the downstream writer's next write fails
	verifyNoLeak(t, before)
}

func TestLeakStallRemovedWithDataInFlight(t *testing.T) {
	srv, px := setup(t)
	before := goleak.IgnoreCurrent()
	client := dial(t, srv, px)
	streamYes(t, client)
	f, err := px.Stall(faultproxy.Downstream)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, client)
	verifyNoLeak(t, before)
}

func TestLeakResetWithDataInFlight(t *testing.T) {
	srv, px := setup(t)
	before := goleak.IgnoreCurrent()
	client := dial(t, srv, px)
	streamYes(t, client)
	if _, err := px.ResetPeer(faultproxy.Downstream); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, client)
	verifyNoLeak(t, before)
}
