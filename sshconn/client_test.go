package sshconn_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

func TestExecExitCodes(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	tests := []struct {
		cmd    string
		status int
		stdout string
		stderr string
	}{
		{"true", 0, "", ""},
		{"echo hello world", 0, "hello world\n", ""},
		{"stderr oops", 0, "", "oops\n"},
		{"false", 1, "", ""},
		{"exit 42", 42, "", ""},
		{"no-such-command", 127, "", "sshtest: command not found: no-such-command\n"},
	}
	for _, tt := range tests {
		res, err := c.Run(context.Background(), tt.cmd)
		if res.ExitStatus != tt.status || string(res.Stdout) != tt.stdout || string(res.Stderr) != tt.stderr {
			t.Errorf("%q: result %+v", tt.cmd, res)
		}
		var exitErr *pool.ExitError
		if tt.status == 0 && err != nil || tt.status != 0 && (!errors.As(err, &exitErr) || exitErr.Result.ExitStatus != tt.status) {
			t.Errorf("%q: err = %v", tt.cmd, err)
		}
		if tt.status != 0 && (failure.Classify(err) != failure.Exit || strings.Contains(err.Error(), tt.cmd)) {
			t.Errorf("%q: kind %v, err %q (must not echo the command)", tt.cmd, failure.Classify(err), err)
		}
		if res.Duration <= 0 {
			t.Errorf("%q: Duration = %v", tt.cmd, res.Duration)
		}
	}
	if !c.Alive() {
		t.Fatal("exit statuses must not affect the connection")
	}
}

func TestExecStdinEnvStreaming(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	res, err := c.Exec(context.Background(), pool.Command{Cmd: "cat", Stdin: strings.NewReader("piped\n")})
	if err != nil || string(res.Stdout) != "piped\n" {
		t.Fatalf("cat: %+v, %v", res, err)
	}
	res, err = c.Exec(context.Background(), pool.Command{Cmd: "env", Env: map[string]string{"B": "2", "A": "1"}})
	if err != nil || string(res.Stdout) != "A=1\nB=2\n" {
		t.Fatalf("env: %q, %v", res.Stdout, err)
	}
	var out, errOut bytes.Buffer
	res, err = c.Exec(context.Background(), pool.Command{Cmd: "yes 3 hi", Stdout: &out, Stderr: &errOut})
	if err != nil || out.String() != "hi\nhi\nhi\n" || len(res.Stdout) != 0 {
		t.Fatalf("streaming: out %q, res %+v, err %v", out.String(), res, err)
	}
}

// TestExecEndedContextRunsNothing: a context that has already ended never
// opens a session for the command (one was opened in a goroutine, and
// under load the command ran and its nil error could win the race with
// ctx): the error is ctx's, classified and marked not started, and the
// server saw no channel opened but the live command's after them.
func TestExecEndedContextRunsNothing(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	before := e.srv.Stats()
	for range 50 {
		for ctx, kind := range map[context.Context]failure.Kind{canceled: failure.Canceled, expired: failure.Timeout} {
			_, err := c.Exec(ctx, pool.Command{Cmd: "true"})
			if failure.Classify(err) != kind || !errors.Is(err, pool.ErrNotStarted) {
				t.Fatalf("Exec with an ended context: %v (%v), want %v marked not started", err, failure.Classify(err), kind)
			}
		}
	}
	if got := mustRun(t, c, "echo live"); got != "live" {
		t.Fatalf("live command: %q", got)
	}
	if st := e.srv.Stats(); st.ChannelsOpened != before.ChannelsOpened+1 || st.Execs != before.Execs+1 {
		t.Fatalf("the server opened %d channels and ran %d commands; want only the live one",
			st.ChannelsOpened-before.ChannelsOpened, st.Execs-before.Execs)
	}
}

func TestExecCancelSendsSignalAndKeepsConnection(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := c.Exec(ctx, pool.Command{Cmd: "sleep 60", Signal: ssh.SIGINT})
	if !errors.Is(err, context.DeadlineExceeded) || failure.Classify(err) != failure.Timeout {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if res.Signal != "INT" || res.ExitStatus != -1 {
		t.Fatalf("result = %+v, want killed by INT", res)
	}
	if time.Since(start) > promptly {
		t.Fatalf("Exec returned after %v", time.Since(start))
	}
	if got := mustRun(t, c, "echo still here"); got != "still here" {
		t.Fatalf("connection unusable after a cancelled command: %q", got)
	}
}

// ignoreSignals handles "hang" by ignoring signals until the session closes.
func ignoreSignals(ctx context.Context, s *sshtest.Session) int {
	if s.Command != "hang" {
		return sshtest.DefaultHandler(ctx, s)
	}
	_, _ = io.Copy(io.Discard, s.Stdin) // returns when the channel closes
	return 0
}

func TestExecCancelClosesSessionAfterGrace(t *testing.T) {
	e := newEnv(t, sshtest.WithHandler(ignoreSignals))
	c := mustDial(t, e.target())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	pr, pw := io.Pipe()
	defer pw.Close()
	_, err := c.Exec(ctx, pool.Command{Cmd: "hang", Stdin: pr, KillGrace: 50 * time.Millisecond})
	if !errors.Is(err, context.Canceled) || failure.Classify(err) != failure.Canceled {
		t.Fatalf("err = %v", err)
	}
	if !c.Alive() {
		t.Fatal("closing the session must not close the connection")
	}
	mustRun(t, c, "true")
}

func TestSessionLimitIsProhibited(t *testing.T) {
	e := newEnv(t, sshtest.WithMaxSessions(1))
	c := mustDial(t, e.target())
	s, err := c.NewSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = c.NewSession(context.Background())
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited || failure.Classify(err) != failure.SessionLimit {
		t.Fatalf("err = %v (kind %v), want Prohibited / session-limit", err, failure.Classify(err))
	}
	if _, err := c.Run(context.Background(), "true"); failure.Classify(err) != failure.SessionLimit {
		t.Fatalf("Run over the limit: %v", err)
	}
	if !c.Alive() {
		t.Fatal("a session limit must not kill the connection")
	}
}

func TestNewSessionBoundedByContext(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	e.srv.Stall()
	defer e.srv.Unstall()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.NewSession(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > promptly {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	e.srv.Unstall()
	waitFor(t, func() bool { return e.srv.Stats().ChannelsOpen == 0 && e.srv.Stats().ChannelsOpened == 1 },
		"the late session must be closed")
}

func TestKeepalive(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	rtt, err := c.SendKeepalive(context.Background())
	if err != nil || rtt <= 0 || e.srv.Stats().Keepalives != 1 {
		t.Fatalf("rtt %v err %v keepalives %d", rtt, err, e.srv.Stats().Keepalives)
	}
}

func TestKeepaliveStalledPeerClosesClient(t *testing.T) {
	e := newEnv(t)
	tgt := e.target()
	tgt.KeepaliveTimeout = 200 * time.Millisecond
	c := mustDial(t, tgt)
	e.srv.Stall()
	defer e.srv.Unstall()
	start := time.Now()
	_, err := c.SendKeepalive(context.Background())
	if !errors.Is(err, sshconn.ErrKeepaliveTimeout) || failure.Classify(err) != failure.Timeout {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > promptly {
		t.Fatalf("probe returned after %v", time.Since(start))
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("a timed-out probe must close the client")
	}
	if c.Alive() || !errors.Is(c.Err(), sshconn.ErrClosed) {
		t.Fatalf("Alive %v Err %v", c.Alive(), c.Err())
	}
}

func TestKeepaliveCallerContext(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	e.srv.Stall()
	defer e.srv.Unstall()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.SendKeepalive(ctx); !errors.Is(err, context.DeadlineExceeded) || c.Alive() {
		t.Fatalf("err = %v alive = %v", err, c.Alive())
	}
}

func TestCloseIdempotentAndErrClosed(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	if c.Err() != nil || !c.Alive() {
		t.Fatal("fresh client must be alive")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _ = c.Close() })
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background(), "true"); !errors.Is(err, sshconn.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if _, err := c.SendKeepalive(context.Background()); !errors.Is(err, sshconn.ErrClosed) {
		t.Fatalf("SendKeepalive after Close: %v", err)
	}
	waitFor(t, func() bool { return e.srv.Stats().ConnsOpen == 0 }, "server still sees the connection")
}

func TestDialContextTunnel(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(conn, conn)
			conn.Close()
		}
	}()
	conn, err := c.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	// A refused destination is a channel rejection, not a dead connection.
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	_, err = c.DialContext(context.Background(), "tcp", closedAddr)
	if k := failure.Classify(err); k != failure.ChannelRejected || !c.Alive() {
		t.Fatalf("tunnel to a closed port: %v (kind %v)", err, k)
	}
}

func TestClientAccessors(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	if c.Client() == nil || c.RemoteAddr().String() != e.srv.Addr() || c.Target().Host != e.srv.Host() {
		t.Fatalf("Client %v RemoteAddr %v Target %v", c.Client(), c.RemoteAddr(), c.Target())
	}
	var _ pool.SSHClient = c
	c.Client().Close()
	select {
	case <-c.Done():
	case <-time.After(promptly):
		t.Fatal("closing the raw client must end Done")
	}
	if failure.Classify(c.Err()) != failure.ConnectionLost {
		t.Fatalf("Err = %v", c.Err())
	}
}

// TestExecConnectionDropClassifiedLost: a command running when its
// connection dies must report failure.ConnectionLost, never failure.Unknown, even
// though x/crypto ends the session (ExitMissingError) before the client
// notices the connection is gone.
func TestExecConnectionDropClassifiedLost(t *testing.T) {
	e := newEnv(t)
	for i := range 10 {
		c := mustDial(t, e.target())
		before := e.srv.Stats().Execs
		errc := make(chan error, 1)
		go func() {
			_, err := c.Run(context.Background(), "sleep 30")
			errc <- err
		}()
		waitFor(t, func() bool { return e.srv.Stats().Execs > before }, "the command to start")
		e.srv.DropAll()
		select {
		case err := <-errc:
			if k := failure.Classify(err); k != failure.ConnectionLost {
				t.Fatalf("round %d: Classify(%v) = %v, want connection-lost", i, err, k)
			}
			if errors.Is(err, pool.ErrNotStarted) {
				t.Fatalf("round %d: a command that started is marked not started: %v", i, err)
			}
		case <-time.After(promptly):
			t.Fatalf("round %d: Run still blocked %v after the connection dropped", i, promptly)
		}
	}
}

// TestExecOnDeadConnectionNotStarted: Exec on a connection the server has
// dropped fails connection-lost and marked pool.ErrNotStarted (nothing
// reached the server, so Pool.Run may run it elsewhere), whether the client
// has noticed the drop yet or not.
func TestExecOnDeadConnectionNotStarted(t *testing.T) {
	for _, when := range []string{"at once", "after Done"} {
		t.Run(when, func(t *testing.T) {
			e := newEnv(t)
			for i := range 10 {
				c := mustDial(t, e.target())
				before := e.srv.Stats().Execs
				e.srv.DropAll()
				if when == "after Done" {
					<-c.Done()
				}
				_, err := c.Run(context.Background(), "echo hi")
				if failure.Classify(err) != failure.ConnectionLost || !errors.Is(err, pool.ErrNotStarted) {
					t.Fatalf("round %d: Run on a dropped connection = %v (%v), want connection-lost marked ErrNotStarted", i, err, failure.Classify(err))
				}
				if n := e.srv.Stats().Execs; n != before {
					t.Fatalf("round %d: server ran %d commands", i, n-before)
				}
			}
		})
	}
}

// TestNotifyEnd: callbacks registered with NotifyEnd run once when the
// connection ends (a drop or Close), before Done closes; one registered
// after the end runs before NotifyEnd returns.
func TestNotifyEnd(t *testing.T) {
	for _, how := range []string{"drop", "close"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			c := mustDial(t, e.target())
			var runs atomic.Int32
			var doneAtRun atomic.Bool
			for range 2 {
				c.NotifyEnd(func() {
					runs.Add(1)
					select {
					case <-c.Done():
						doneAtRun.Store(true)
					default:
					}
				})
			}
			if runs.Load() != 0 {
				t.Fatal("callback ran while the connection is alive")
			}
			if how == "drop" {
				e.srv.DropAll()
			} else {
				c.Close()
			}
			<-c.Done()
			if runs.Load() != 2 || doneAtRun.Load() {
				t.Fatalf("callbacks ran %d times (want 2), saw Done closed: %v (want false)", runs.Load(), doneAtRun.Load())
			}
			late := false
			c.NotifyEnd(func() { late = true })
			if !late {
				t.Error("callback registered after the end did not run at once")
			}
			if runs.Load() != 2 {
				t.Errorf("earlier callbacks ran again: %d", runs.Load())
			}
		})
	}
}
