package sshconn_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// promptly is the upper bound for "returns promptly" checks. The operations
// checked would otherwise take 30 s or more (a sleep 30 or 60, a one-minute
// handshake delay, a stall), so the bound can be generous enough for a
// loaded machine and still tell the two apart.
const promptly = 15 * time.Second

func TestDialCancelDuringSlowHandshake(t *testing.T) {
	e := newEnv(t)
	e.srv.SetHandshakeDelay(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := newFactory(nil).DialTarget(ctx, "slow", e.target())
	if !errors.Is(err, context.Canceled) || failure.Classify(err) != failure.Canceled {
		t.Fatalf("err = %v (kind %v), want context.Canceled", err, failure.Classify(err))
	}
	if d := time.Since(start); d > promptly {
		t.Fatalf("dial returned after %v", d)
	}
}

func TestDialTimeoutCoversHandshake(t *testing.T) {
	e := newEnv(t, sshtest.WithHandshakeDelay(time.Minute))
	tgt := e.target()
	tgt.DialTimeout = 200 * time.Millisecond
	attempts := 0
	start := time.Now()
	_, err := newFactory(nil, sshconn.WithMaxRetries(1),
		sshconn.WithAttemptHook(func(string, int, error) { attempts++ })).DialTarget(context.Background(), "slow", tgt)
	if !errors.Is(err, context.DeadlineExceeded) || failure.Classify(err) != failure.Timeout {
		t.Fatalf("err = %v, want a deadline", err)
	}
	if attempts != 2 {
		t.Fatalf("a timeout is retryable: %d attempts, want 2", attempts)
	}
	if d := time.Since(start); d > promptly {
		t.Fatalf("dial returned after %v", d)
	}
}

func TestDialRetriesRefused(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.RefuseNew(true); err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	attempts := 0
	f := newFactory(nil, sshconn.WithMaxRetries(3),
		sshconn.WithBackoff(100*time.Millisecond, 250*time.Millisecond),
		sshconn.WithJitter(func(max time.Duration) time.Duration { return max }),
		sshconn.WithSleep(func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }),
		sshconn.WithAttemptHook(func(string, int, error) { attempts++ }))
	_, err := f.DialTarget(context.Background(), "down", e.target())
	var de *sshconn.DialError
	if !errors.As(err, &de) || de.Attempt != 4 || attempts != 4 || failure.Classify(err) != failure.Refused {
		t.Fatalf("err = %v attempts = %d, want 4 refused attempts", err, attempts)
	}
	if de.Key != "down" || de.Addr != e.srv.Addr() || !strings.HasPrefix(err.Error(), "sshconn: ") {
		t.Fatalf("DialError = %+v", de)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond}
	if len(slept) != 3 || slept[0] != want[0] || slept[1] != want[1] || slept[2] != want[2] {
		t.Fatalf("backoffs = %v, want %v", slept, want)
	}
}

func TestDialRetryStopsWhenContextEnds(t *testing.T) {
	e := newEnv(t)
	_ = e.srv.RefuseNew(true)
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	f := sshconn.NewFactory(nil, sshconn.WithLogger(discardLogger()), sshconn.WithMaxRetries(100),
		sshconn.WithBackoff(time.Hour, time.Hour),
		sshconn.WithAttemptHook(func(string, int, error) { attempts++; cancel() }))
	_, err := f.DialTarget(ctx, "down", e.target())
	if attempts != 1 || failure.Classify(err) != failure.Refused {
		t.Fatalf("attempts = %d, err = %v", attempts, err)
	}
}

func TestDialRecoversAfterRefusal(t *testing.T) {
	e := newEnv(t)
	_ = e.srv.RefuseNew(true)
	f := newFactory(nil, sshconn.WithMaxRetries(2), sshconn.WithSleep(func(context.Context, time.Duration) error {
		return e.srv.RefuseNew(false)
	}))
	c, err := f.DialTarget(context.Background(), "k", e.target())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestDialResolveError(t *testing.T) {
	_, err := newFactory(sshconn.NewRegistry()).Dial(context.Background(), "nope")
	var de *sshconn.DialError
	if !errors.As(err, &de) || de.Attempt != 0 || !errors.Is(err, sshconn.ErrNotFound) || failure.Classify(err) != failure.Config {
		t.Fatalf("err = %v", err)
	}
}

func TestDialProxyJump(t *testing.T) {
	jump := newEnv(t)
	final := newEnv(t, sshtest.WithHostname("final"))
	tgt := final.target()
	tgt.JumpHosts = []sshconn.Target{jump.target()}
	c := mustDial(t, tgt)
	if got := mustRun(t, c, "hostname"); got != "final" {
		t.Fatalf("hostname = %q", got)
	}
	if c.RemoteAddr().String() != final.srv.Addr() {
		t.Fatalf("RemoteAddr = %v, want %s", c.RemoteAddr(), final.srv.Addr())
	}
	if jump.srv.Stats().ChannelsOpened != 1 {
		t.Fatalf("jump host opened %d channels, want 1 direct-tcpip", jump.srv.Stats().ChannelsOpened)
	}
	c.Close()
	waitFor(t, func() bool { return jump.srv.Stats().ConnsOpen == 0 }, "closing the client must close the jump hop")
}

func TestDialProxyJumpTwoHops(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	final := newEnv(t, sshtest.WithHostname("final"))
	tgt := final.target()
	tgt.JumpHosts = []sshconn.Target{a.target(), b.target()}
	c := mustDial(t, tgt)
	if got := mustRun(t, c, "hostname"); got != "final" {
		t.Fatalf("hostname = %q", got)
	}
	if !strings.Contains(tgt.String(), " via ") {
		t.Fatalf("String() = %q", tgt.String())
	}
}

func TestDialProxyJumpHostKeyErrorNamesHop(t *testing.T) {
	jump := newEnv(t)
	final := newEnv(t)
	writeFile(t, jump.knownHosts, "")
	tgt := final.target()
	tgt.JumpHosts = []sshconn.Target{jump.target()}
	_, err := dialTarget(t, tgt)
	if failure.Classify(err) != failure.HostKeyUnknown || !strings.Contains(err.Error(), "jump host "+jump.srv.Addr()) {
		t.Fatalf("err = %v", err)
	}
}

func TestDialCancelDuringSlowJumpHandshake(t *testing.T) {
	jump := newEnv(t)
	final := newEnv(t, sshtest.WithHandshakeDelay(time.Minute))
	tgt := final.target()
	tgt.JumpHosts = []sshconn.Target{jump.target()}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newFactory(nil, sshconn.WithMaxRetries(0)).DialTarget(ctx, "k", tgt)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > promptly {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	waitFor(t, func() bool { return jump.srv.Stats().ConnsOpen == 0 }, "a failed dial must close its jump hop")
}

func TestDialDeadConnectionAfterDrop(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	e.srv.DropAll()
	select {
	case <-c.Done():
	case <-time.After(promptly):
		t.Fatal("Done not closed after the server dropped the connection")
	}
	if c.Alive() || !errors.Is(c.Err(), sshconn.ErrConnectionLost) || failure.Classify(c.Err()) != failure.ConnectionLost {
		t.Fatalf("Alive=%v Err=%v", c.Alive(), c.Err())
	}
	_, err := c.NewSession(context.Background())
	if failure.Classify(err) != failure.ConnectionLost {
		t.Fatalf("NewSession on a dead connection: %v (kind %v)", err, failure.Classify(err))
	}
}

func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(promptly)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var _ = net.Dial

func TestDialNestedJumpHosts(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	final := newEnv(t, sshtest.WithHostname("final"))
	hop := b.target()
	hop.JumpHosts = []sshconn.Target{a.target()} // b is reached through a
	tgt := final.target()
	tgt.JumpHosts = []sshconn.Target{hop}
	c := mustDial(t, tgt)
	if got := mustRun(t, c, "hostname"); got != "final" || a.srv.Stats().ChannelsOpened != 1 || b.srv.Stats().ChannelsOpened != 1 {
		t.Fatalf("hostname %q, channels a=%d b=%d", got, a.srv.Stats().ChannelsOpened, b.srv.Stats().ChannelsOpened)
	}
}
