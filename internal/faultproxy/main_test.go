package faultproxy_test

import (
	"bytes"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/faultproxy"
	"github.com/sshpool/sshpool/sshtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds the waits in these tests; they normally end in milliseconds.
const waitFor = 10 * time.Second

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
	client, err := ssh.Dial("tcp", px.Addr(), srv.ClientConfig("alice"))
	if err != nil {
		t.Fatalf("dial %s: %v", px.Addr(), err)
	}
	t.Cleanup(func() { client.Close() })
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

// dialCounting is dial with a count of the bytes the client receives.
func dialCounting(t *testing.T, srv *sshtest.Server, px *faultproxy.Proxy) (*ssh.Client, *countingConn) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", px.Addr(), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: nc}
	conn, chans, reqs, err := ssh.NewClientConn(cc, px.Addr(), srv.ClientConfig("alice"))
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	client := ssh.NewClient(conn, chans, reqs)
	t.Cleanup(func() { client.Close() })
	return client, cc
}

// run runs cmd in a new session and returns its stdout and Wait error.
func run(t *testing.T, client *ssh.Client, cmd string) (string, error) {
	t.Helper()
	sess, err := client.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	var out bytes.Buffer
	sess.Stdout = &out
	err = sess.Run(cmd)
	return out.String(), err
}

// keepalive sends a keepalive@openssh.com request with want-reply and
// returns how long the round trip took.
func keepalive(client *ssh.Client) (time.Duration, error) {
	start := time.Now()
	_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
	return time.Since(start), err
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
