package sshtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/sshtest"
)

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *ssh.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v (%T) is not an *ssh.ExitError", err, err)
	}
	return ee.ExitStatus()
}

func TestDefaultHandler(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.WithHostname("box1"))
	client := dial(t, srv, srv.ClientConfig("alice"))
	tests := []struct {
		cmd, stdin     string
		stdout, stderr string
		status         int
	}{
		{cmd: "echo hello  world", stdout: "hello world\n"},
		{cmd: "true"},
		{cmd: "false", status: 1},
		{cmd: "exit 3", status: 3},
		{cmd: "exit 256", status: 0},
		{cmd: "exit x", stderr: "sshtest: exit: numeric argument required\n", status: 2},
		{cmd: "sleep 0.01"},
		{cmd: "sleep x", stderr: "sshtest: sleep: invalid time interval\n", status: 2},
		{cmd: "cat", stdin: "a\nb\n", stdout: "a\nb\n"},
		{cmd: "hostname", stdout: "box1\n"},
		{cmd: "whoami", stdout: "alice\n"},
		{cmd: "env"},
		{cmd: "stderr oops now", stderr: "oops now\n"},
		{cmd: "yes 3", stdout: "y\ny\ny\n"},
		{cmd: "yes 2 ok go", stdout: "ok go\nok go\n"},
		{cmd: "nosuch arg", stderr: "sshtest: command not found: nosuch\n", status: sshtest.ExitNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			stdout, stderr, err := run(t, client, tt.cmd, tt.stdin)
			if got := exitStatus(t, err); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
			if stdout != tt.stdout || stderr != tt.stderr {
				t.Errorf("stdout %q stderr %q, want %q %q", stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestYesStreamsManyLines(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	stdout, _, err := run(t, client, "yes 10000", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout, "y\n"); n != 10000 {
		t.Fatalf("got %d lines", n)
	}
}

func TestEnvRequests(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, kv := range [][2]string{{"B", "2"}, {"A", "1"}} {
		if err := sess.Setenv(kv[0], kv[1]); err != nil {
			t.Fatalf("setenv: %v", err)
		}
	}
	out, err := sess.Output("env")
	if err != nil || string(out) != "A=1\nB=2\n" {
		t.Fatalf("env = %q, %v", out, err)
	}
}

func TestSignalEndsSleepWithExitSignal(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	for _, cmd := range []string{"sleep 60", "cat", "yes"} {
		t.Run(cmd, func(t *testing.T) {
			sess, err := client.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if _, err := sess.StdinPipe(); err != nil { // keeps cat's stdin open
				t.Fatal(err)
			}
			if err := sess.Start(cmd); err != nil {
				t.Fatal(err)
			}
			if err := sess.Signal(ssh.SIGTERM); err != nil {
				t.Fatal(err)
			}
			var ee *ssh.ExitError
			if err := sess.Wait(); !errors.As(err, &ee) || ee.Signal() != "TERM" {
				t.Fatalf("Wait = %v, want exit signal TERM", err)
			}
		})
	}
}

func TestShellRequestRunsLines(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("bob"))
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatalf("pty-req: %v", err)
	}
	var out strings.Builder
	sess.Stdout = &out
	sess.Stdin = strings.NewReader("whoami\necho hi\nexit 4\necho never\n")
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	if got := exitStatus(t, sess.Wait()); got != 4 || out.String() != "bob\nhi\n" {
		t.Fatalf("status %d output %q", got, out.String())
	}
}

func TestCustomHandler(t *testing.T) {
	got := make(chan *sshtest.Session, 1)
	h := func(ctx context.Context, s *sshtest.Session) int {
		got <- s
		s.Stdout.Write([]byte(strings.Join(s.Args, ",")))
		return 7
	}
	srv := sshtest.NewServer(t, sshtest.WithHandler(h))
	client := dial(t, srv, srv.ClientConfig("carol"))
	stdout, _, err := run(t, client, "a b  c", "")
	if exitStatus(t, err) != 7 || stdout != "a,b,c" {
		t.Fatalf("stdout %q err %v", stdout, err)
	}
	s := <-got
	if s.User != "carol" || s.Command != "a b  c" || s.RemoteAddr == nil || s.Signal() != "" {
		t.Fatalf("session %+v", s)
	}
}

func TestHandlerNegativeStatusWithoutSignalIsKill(t *testing.T) {
	h := func(context.Context, *sshtest.Session) int { return sshtest.ExitSignalled }
	srv := sshtest.NewServer(t, sshtest.WithHandler(h))
	client := dial(t, srv, srv.ClientConfig("u"))
	_, _, err := run(t, client, "x", "")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "KILL" {
		t.Fatalf("err = %v, want exit signal KILL", err)
	}
}

func TestClientCloseCancelsHandler(t *testing.T) {
	cancelled := make(chan struct{})
	h := func(ctx context.Context, s *sshtest.Session) int {
		<-ctx.Done()
		close(cancelled)
		return 0
	}
	srv := sshtest.NewServer(t, sshtest.WithHandler(h))
	client := dial(t, srv, srv.ClientConfig("u"))
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("block"); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	select {
	case <-cancelled:
	case <-time.After(waitFor):
		t.Fatal("handler context not cancelled after the client closed the session")
	}
}
