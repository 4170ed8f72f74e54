package faultproxy_test

import (
	"io"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/faultproxy"
)

// streamYes starts an endless "yes" on client and returns once output
// flows; a goroutine discards the output until the connection ends.
func streamYes(t *testing.T, client *ssh.Client) {
	t.Helper()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("yes"); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
}

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
