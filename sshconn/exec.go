package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/pool"
)

// DefaultMaxOutput bounds each captured stream of a command (Result.Stdout,
// Result.Stderr) in bytes when neither Command.MaxOutput nor WithMaxOutput
// sets a limit: 16 MiB. Stream larger outputs (Command.Stdout, Stderr).
const DefaultMaxOutput = 16 << 20

// DefaultKillGrace is how long Exec waits after signalling a cancelled
// command before closing its session, when Command.KillGrace is 0.
const DefaultKillGrace = 2 * time.Second

// Run runs cmd in a new session with output captured into the Result.
func (c *Client) Run(ctx context.Context, cmd string) (pool.Result, error) {
	return c.Exec(ctx, pool.Command{Cmd: cmd})
}

// Exec runs cmd in a new session and waits for it. A command that exits
// non-zero or is killed returns an error wrapping *pool.ExitError. Output
// not streamed is captured into the Result, each stream up to
// cmd.MaxOutput bytes (see maxOutput); past it the command is signalled,
// its session closed, and the error wraps *pool.OutputLimitError. When ctx
// ends first, the remote process is sent cmd.Signal (default SIGTERM); after
// cmd.KillGrace (default DefaultKillGrace) the session, and only the
// session, is closed, and the error wraps ctx.Err(). A failure to open the
// session, before the command was sent, is marked pool.ErrNotStarted. The
// error never contains the command line, which may hold secrets.
func (c *Client) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	start := time.Now()
	s, err := c.NewSession(ctx)
	if err != nil {
		// No exec request was sent: running the command again cannot run
		// it twice (Pool.Run retries a lost connection on another one).
		return pool.Result{ExitStatus: -1}, pool.MarkNotStarted(err)
	}
	defer s.Close()
	out := newOutputs(s, cmd, c.maxOutput(cmd))
	setEnv(s, cmd.Env)
	s.Stdin = cmd.Stdin
	if err := s.Start(cmd.Cmd); err != nil {
		return pool.Result{ExitStatus: -1}, c.opError("exec", err)
	}
	cancelled, err := c.wait(ctx, s, cmd)
	res := out.result(err, time.Since(start))
	if cancelled {
		return res, fmt.Errorf("sshconn: exec on %s: %w", c.target.Addr(), ctx.Err())
	}
	if lerr := out.limitError(); lerr != nil {
		return res, fmt.Errorf("sshconn: exec on %s: %w", c.target.Addr(), lerr)
	}
	return res, c.exitError(res, err)
}

// maxOutput returns the limit of each captured stream of cmd: its
// MaxOutput, else the client's (WithMaxOutput, DefaultMaxOutput); 0 means
// none.
func (c *Client) maxOutput(cmd pool.Command) int64 {
	n := cmd.MaxOutput
	if n == 0 {
		n = c.outputLimit
	}
	if n == 0 {
		n = DefaultMaxOutput
	}
	return max(n, 0)
}

// wait waits for s, or signals and closes it when ctx ends first.
func (c *Client) wait(ctx context.Context, s *ssh.Session, cmd pool.Command) (cancelled bool, err error) {
	if ctx.Done() == nil {
		return false, s.Wait()
	}
	waitc := make(chan error, 1)
	go func() { waitc <- s.Wait() }()
	select {
	case err := <-waitc:
		return false, err
	case <-ctx.Done():
		return true, interrupt(s, cmd, waitc)
	}
}

// interrupt sends the signal, waits up to the grace period, then closes the
// session and waits up to the grace period again for its end. The Wait
// goroutine ends at the latest when the connection does.
func interrupt(s *ssh.Session, cmd pool.Command, waitc <-chan error) error {
	sig := cmd.Signal
	if sig == "" {
		sig = ssh.SIGTERM
	}
	_ = s.Signal(sig)
	grace := orDefault(cmd.KillGrace, DefaultKillGrace)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-waitc:
		return err
	case <-t.C:
	}
	_ = s.Close()
	t.Reset(grace)
	select {
	case err := <-waitc:
		return err
	case <-t.C:
		return errors.New("session did not end after close")
	}
}

// exitError converts Wait's error: nil → nil, exit status/signal →
// *pool.ExitError, anything else → wrapped (lost connection when the
// connection has ended).
func (c *Client) exitError(res pool.Result, err error) error {
	if err == nil {
		return nil
	}
	var (
		exitErr *ssh.ExitError
		missing *ssh.ExitMissingError
	)
	switch {
	case errors.As(err, &exitErr):
		return fmt.Errorf("sshconn: exec on %s: %w", c.target.Addr(), &pool.ExitError{Result: res})
	case errors.As(err, &missing), errors.Is(err, io.EOF):
		c.awaitEnd(exitMissingGrace)
	}
	return c.opError("exec", err)
}

// exitMissingGrace is how long exitError waits for the connection watcher
// when a session ended without an exit status.
const exitMissingGrace = 250 * time.Millisecond

// awaitEnd waits up to d for the connection to end. When a connection dies
// under a running command, x/crypto closes the session's channel (Wait
// returns *ssh.ExitMissingError) before client.Wait returns and the watcher
// marks the client dead; without this wait such calls were reported as
// KindUnknown instead of KindConnectionLost (regression test
// TestExecConnectionDropClassifiedLost).
func (c *Client) awaitEnd(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.Done():
	case <-t.C:
	}
}

func setEnv(s *ssh.Session, env map[string]string) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		_ = s.Setenv(k, env[k]) // a refused variable is ignored (AcceptEnv)
	}
}

// outputs captures or streams a session's stdout and stderr, and stops
// the session when captured output passes its limit.
type outputs struct {
	stdout, stderr capture.Buffer
	capOut, capErr bool // the stream is captured, not streamed
	s              *ssh.Session
	signal         ssh.Signal
	limit          int64       // bytes per captured stream; 0 = none
	stopped        atomic.Bool // stop has run
}

func newOutputs(s *ssh.Session, cmd pool.Command, limit int64) *outputs {
	o := &outputs{s: s, signal: cmd.Signal, limit: limit}
	if o.signal == "" {
		o.signal = ssh.SIGTERM
	}
	var stop func()
	if limit > 0 {
		stop = o.stop
	}
	s.Stdout, o.capOut = o.sink(&o.stdout, cmd.Stdout, stop)
	s.Stderr, o.capErr = o.sink(&o.stderr, cmd.Stderr, stop)
	return o
}

// sink returns w when the caller streams, else b limited to o.limit.
func (o *outputs) sink(b *capture.Buffer, w io.Writer, stop func()) (io.Writer, bool) {
	if w != nil {
		return w, false
	}
	b.SetLimit(o.limit, stop)
	return b, true
}

// stop ends a command whose output passed the limit: it signals it and
// closes its session, so that Wait returns. It runs on x/crypto's copy
// goroutine.
func (o *outputs) stop() {
	if o.stopped.CompareAndSwap(false, true) {
		_ = o.s.Signal(o.signal)
		_ = o.s.Close()
	}
}

// limitError returns the *pool.OutputLimitError of a stream that passed
// the limit, or nil.
func (o *outputs) limitError() error {
	switch {
	case !o.stopped.Load():
		return nil
	case o.capOut && o.stdout.Exceeded():
		return &pool.OutputLimitError{Stream: "stdout", Limit: o.limit}
	case o.capErr && o.stderr.Exceeded():
		return &pool.OutputLimitError{Stream: "stderr", Limit: o.limit}
	}
	return nil
}

// result builds the Result from Wait's error. It takes the captured
// output without copying it: Take detaches it from writers that may still
// run after a cancelled Exec gave up on its session.
func (o *outputs) result(err error, d time.Duration) pool.Result {
	res := pool.Result{Duration: d, ExitStatus: -1}
	if o.capOut {
		res.Stdout = o.stdout.Take()
	}
	if o.capErr {
		res.Stderr = o.stderr.Take()
	}
	if err == nil {
		res.ExitStatus = 0
	} else {
		res.ExitStatus, res.Signal = exitStatus(err)
	}
	return res
}

// exitStatus returns the status or signal in Wait's error, or -1 and ""
// when it holds neither. (A separate function: the errors.As target
// escapes, so declaring it on the success path would allocate there.)
func exitStatus(err error) (int, string) {
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) {
		return -1, ""
	}
	if sig := exitErr.Signal(); sig != "" {
		return -1, sig
	}
	return exitErr.ExitStatus(), ""
}
