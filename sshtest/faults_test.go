package sshtest_test

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/sshtest"
)

func TestMaxSessions(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.WithMaxSessions(2))
	client := dial(t, srv, srv.ClientConfig("u"))
	var open []*ssh.Session
	for range 2 {
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, sess)
	}
	_, err := client.NewSession()
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited || oce.Message != "administratively prohibited: open failed" {
		t.Fatalf("third session: %v, want OpenChannelError Prohibited", err)
	}
	if got := srv.Stats().ChannelsRejected; got != 1 {
		t.Fatalf("ChannelsRejected = %d", got)
	}
	// The limit is per connection.
	other := dial(t, srv, srv.ClientConfig("u"))
	if _, _, err := run(t, other, "true", ""); err != nil {
		t.Fatalf("session on another connection: %v", err)
	}
	// Closing a session frees its slot once the server has seen the close.
	open[0].Close()
	eventually(t, "a free slot", func() bool {
		sess, err := client.NewSession()
		if err == nil {
			sess.Close()
		}
		return err == nil
	})
	srv.SetMaxSessions(0)
	for range 3 {
		sess, err := client.NewSession()
		if err != nil {
			t.Fatalf("unlimited: %v", err)
		}
		defer sess.Close()
	}
}

func TestHandshakeDelay(t *testing.T) {
	srv := sshtest.NewServer(t)
	srv.SetHandshakeDelay(time.Second)
	cfg := srv.ClientConfig("u")
	cfg.Timeout = 50 * time.Millisecond // ssh.Dial applies it to the TCP dial only
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, _, err = ssh.NewClientConn(raw, srv.Addr(), cfg)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("handshake with a 50ms deadline: %v, want a timeout", err)
	}
	srv.SetHandshakeDelay(0)
	dial(t, srv, srv.ClientConfig("u"))
}

func TestWithHandshakeDelay(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.WithHandshakeDelay(time.Hour))
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, _, err := ssh.NewClientConn(raw, srv.Addr(), srv.ClientConfig("u")); err == nil {
		t.Fatal("handshake succeeded despite the delay")
	}
	// Close must not wait for the hour.
}

// keepalive sends a keepalive on its own goroutine; the result arrives on
// the returned channel.
func keepalive(client *ssh.Client) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
		done <- err
	}()
	return done
}

func TestStall(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	srv.Stall()
	done := keepalive(client)
	select {
	case err := <-done:
		t.Fatalf("keepalive returned (%v) while stalled", err)
	case <-time.After(100 * time.Millisecond):
	}
	// New connections are accepted but their handshake stalls.
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatalf("dial while stalled: %v", err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, _, err := ssh.NewClientConn(raw, srv.Addr(), srv.ClientConfig("u")); err == nil {
		t.Fatal("handshake completed while stalled")
	}
	srv.Unstall()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("keepalive after Unstall: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("keepalive did not return after Unstall")
	}
	if _, _, err := run(t, client, "true", ""); err != nil {
		t.Fatal(err)
	}
}

func TestCloseWhileStalled(t *testing.T) {
	srv, err := sshtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig("u"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv.Stall()
	done := keepalive(client)
	srv.Close() // must not hang
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("keepalive still blocked after Close")
	}
}

func TestDropAll(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("sleep 60"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- client.Wait() }()
	srv.DropAll()
	select {
	case <-waited:
	case <-time.After(waitFor):
		t.Fatal("client.Wait did not return after DropAll")
	}
	if st := srv.Stats(); st.ConnsOpen != 0 || st.ChannelsOpen != 0 {
		t.Fatalf("after DropAll: %+v", st)
	}
	dial(t, srv, srv.ClientConfig("u")) // still accepting
}

func TestRefuseNew(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	if err := srv.RefuseNew(true); err != nil {
		t.Fatal(err)
	}
	_, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig("u"))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while refusing: %v, want ECONNREFUSED", err)
	}
	if _, _, err := run(t, client, "true", ""); err != nil {
		t.Fatalf("open connection broken by RefuseNew: %v", err)
	}
	if err := srv.RefuseNew(false); err != nil {
		t.Fatal(err)
	}
	dial(t, srv, srv.ClientConfig("u"))
}

func TestRestart(t *testing.T) {
	srv := sshtest.NewServer(t)
	addr, hostKey := srv.Addr(), string(srv.HostKey().Marshal())
	client := dial(t, srv, srv.ClientConfig("u"))
	if err := srv.RefuseNew(true); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := client.Wait(); err == nil {
		t.Log("client.Wait returned nil")
	}
	if srv.Addr() != addr || string(srv.HostKey().Marshal()) != hostKey {
		t.Fatal("Restart changed the address or host key")
	}
	// ClientConfig pins the host key, so a successful dial proves it is kept.
	client2 := dial(t, srv, srv.ClientConfig("u"))
	if _, _, err := run(t, client2, "true", ""); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.ConnsAccepted != 2 || st.ConnsOpen != 1 {
		t.Fatalf("Stats after Restart = %+v", st)
	}
}

// TestFaultsConcurrently toggles every fault while clients run commands; it
// checks for races, panics, deadlocks and leaks, not for outcomes.
func TestFaultsConcurrently(t *testing.T) {
	srv := sshtest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				cfg := srv.ClientConfig("u")
				cfg.Timeout = time.Second
				client, err := ssh.Dial("tcp", srv.Addr(), cfg)
				if err != nil {
					continue
				}
				stop := context.AfterFunc(ctx, func() { client.Close() })
				if sess, err := client.NewSession(); err == nil {
					sess.Run("yes 100")
					sess.Close()
				}
				stop()
				client.Close()
			}
		}()
	}
	faults := []func(){
		func() { srv.SetMaxSessions(1) }, func() { srv.SetMaxSessions(0) },
		func() { srv.FailAuth(true) }, func() { srv.FailAuth(false) },
		func() { srv.Stall() }, func() { srv.Unstall() },
		func() { srv.DropAll() }, func() { srv.RefuseNew(true) }, func() { srv.RefuseNew(false) },
		func() { srv.Restart() },
	}
	for i := 0; ctx.Err() == nil; i++ {
		faults[i%len(faults)]()
		time.Sleep(time.Millisecond)
	}
	srv.Unstall()
	for range 4 {
		<-done
	}
}
