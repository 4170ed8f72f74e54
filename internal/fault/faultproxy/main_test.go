package faultproxy_test

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
	"github.com/sshpool/sshpool/sshtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait in these tests. It only guards against a hang:
// the waits normally end in milliseconds, but a loaded machine can be slow.
const waitFor = 30 * time.Second

// stallWindow is how long a stalled request must stay unanswered. Only a
// lower bound is asserted: a stalled request never returns by itself.
const stallWindow = 300 * time.Millisecond

// setup starts an sshtest server and a proxy in front of it.
func setup(t *testing.T) (*sshtest.Server, *faultproxy.Proxy) {
	t.Helper()
	srv := sshtest.NewServer(t)
	return srv, faultproxy.Start(t, srv.Addr())
}

// dial connects to srv through px and closes the client at the end of the
// test.
func dial(t *testing.T, srv *sshtest.Server, px *faultproxy.Proxy) *ssh.Client {
	t.Helper()
	client, _ := dialCounting(t, px.Addr(), srv.ClientConfig("alice"))
	return client
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// dialCounting connects to addr with cfg and counts the bytes the client
// receives; it closes the client at the end of the test. Unlike ssh.Dial,
// it bounds the SSH handshake too (by waitFor).
func dialCounting(t *testing.T, addr string, cfg *ssh.ClientConfig) (*ssh.Client, *countingConn) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	cc := &countingConn{Conn: nc}
	nc.SetDeadline(time.Now().Add(waitFor))
	conn, chans, reqs, err := ssh.NewClientConn(cc, addr, cfg)
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	nc.SetDeadline(time.Time{})
	client := ssh.NewClient(conn, chans, reqs)
	t.Cleanup(func() { client.Close() })
	return client, cc
}

// within returns f's result, failing the test if f has not returned within
// waitFor; closing client then ends f. It bounds the SSH requests of these
// tests, which a fault can leave unanswered forever.
func within[T any](t *testing.T, client *ssh.Client, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		client.Close()
		<-ch
		t.Fatalf("%s: no answer in %v", what, waitFor)
	}
	var zero T
	return zero
}

// run runs cmd in a new session and returns its stdout and Wait error,
// failing the test if it takes longer than waitFor.
func run(t *testing.T, client *ssh.Client, cmd string) (string, error) {
	t.Helper()
	type result struct {
		out string
		err error
	}
	r := within(t, client, cmd, func() result {
		sess, err := client.NewSession()
		if err != nil {
			return result{err: err}
		}
		defer sess.Close()
		var out bytes.Buffer
		sess.Stdout = &out
		err = sess.Run(cmd)
		return result{out.String(), err}
	})
	return r.out, r.err
}

// keepalive sends a keepalive@openssh.com request with want-reply and
// returns how long the round trip took. It waits as long as the request
// does: call it on its own goroutine where a fault may hold it, else use
// roundTrip.
func keepalive(client *ssh.Client) (time.Duration, error) {
	start := time.Now()
	_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
	return time.Since(start), err
}

// roundTrip is keepalive, failing the test if it takes longer than waitFor.
func roundTrip(t *testing.T, client *ssh.Client) (time.Duration, error) {
	t.Helper()
	type result struct {
		rtt time.Duration
		err error
	}
	r := within(t, client, "keepalive", func() result {
		rtt, err := keepalive(client)
		return result{rtt, err}
	})
	return r.rtt, r.err
}

// streamYes starts an endless "yes" on client and returns its session once
// output flows; a goroutine discards the output until the connection ends.
func streamYes(t *testing.T, client *ssh.Client) *ssh.Session {
	t.Helper()
	var sess *ssh.Session
	err := within(t, client, "start yes", func() error {
		var err error
		if sess, err = client.NewSession(); err != nil {
			return err
		}
		out, err := sess.StdoutPipe()
		if err != nil {
			return err
		}
		if err := sess.Start("yes"); err != nil {
			return err
		}
		if _, err := out.Read(make([]byte, 1)); err != nil {
			return err
		}
		go io.Copy(io.Discard, out)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// expectStalledUntilHeal checks that px stalls client's connection: a
// keepalive gets no answer within stallWindow, and fails once px.Heal has
// closed the connection, which has lost data.
func expectStalledUntilHeal(t *testing.T, px *faultproxy.Proxy, client *ssh.Client) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := keepalive(client)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("keepalive returned during stall: %v", err)
	case <-time.After(stallWindow):
	}
	if err := px.Heal(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("stalled keepalive succeeded after Heal")
		}
	case <-time.After(waitFor):
		t.Fatal("stalled keepalive still blocked after Heal")
	}
}

// waitClosed fails the test unless client's connection ends within waitFor.
func waitClosed(t *testing.T, client *ssh.Client) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		client.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		client.Close()
		<-done
		t.Fatal("client connection did not end")
	}
}

// verifyNoLeak waits until every goroutine started since before has ended,
// failing the test if some are still running after waitFor. goleak's own
// retries give up within half a second, too soon on a loaded machine.
func verifyNoLeak(t *testing.T, before goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := goleak.Find(before)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
