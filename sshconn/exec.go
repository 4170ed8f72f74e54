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

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

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
// cmd.MaxOutput bytes (see WithMaxOutput); past it the command is
// signalled, its session closed, and the error wraps
// *pool.OutputLimitError. When ctx ends first, the remote process is sent
// cmd.Signal (default SIGTERM); after cmd.KillGrace (default
// DefaultKillGrace) the session, and only the session, is closed, and the
// error wraps ctx.Err(). A failure to open the session, before the command
// was sent, is marked pool.ErrNotStarted. The error never contains the
// command line, which may hold secrets.
//
// A session the server may still count against its session limit (see
// WithServerMaxSessions) waits, bounded by ctx, until the server has
// freed a slot, rather than being refused.
func (c *Client) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	if err := ctx.Err(); err != nil {
		// Ended before the command was sent: never start it (a goroutine
		// started anyway could finish before the caller saw ctx end).
		return pool.Result{ExitStatus: -1}, pool.MarkNotStarted(c.opError("new session", err))
	}
	x := &execution{c: c, cmd: cmd, ctx: ctx, start: time.Now()}
	if ctx.Done() == nil { // nothing to watch: run on the caller's goroutine
		x.run()
		return x.res, x.err
	}
	x.done = make(chan struct{})
	go x.run()
	select {
	case <-x.done:
		return x.res, x.err
	case <-ctx.Done():
		return x.cancel()
	}
}

// The states of an execution: its goroutine starts the command only if it
// moves the state from opening to started first; a caller that gives up
// while the session opens moves it to abandoned, and the goroutine then
// closes the session unused.
const (
	execOpening int32 = iota
	execStarted
	execAbandoned
)

// execution is one Exec. Its goroutine (run) opens the session, starts
// the command and waits for it; the caller waits for done or ctx. One
// goroutine per command, and none when ctx cannot end: an open that the
// server never answers, and a session that does not end after its close,
// must not hold the caller past ctx, and x/crypto's NewSession and Wait
// cannot be interrupted.
type execution struct {
	c     *Client
	cmd   pool.Command
	ctx   context.Context
	start time.Time
	done  chan struct{} // closed when run returns; nil when run is inline
	state atomic.Int32  // execOpening, execStarted or execAbandoned
	s     *ssh.Session  // set by run before it moves state from opening
	out   outputs       // set up by run before it moves state from opening
	res   pool.Result   // run's outcome, read after done
	err   error
}

// run runs the command and records the outcome.
func (x *execution) run() {
	if x.done != nil {
		defer close(x.done)
	}
	c := x.c
	s, err := c.openExecSession(x.ctx)
	if err != nil {
		// No exec request was sent: running the command again cannot run
		// it twice (Pool.Run retries a lost connection on another one).
		x.res, x.err = pool.Result{ExitStatus: -1}, pool.MarkNotStarted(err)
		return
	}
	defer c.closeExecSession(s)
	x.out.init(s, x.cmd, c.maxOutput(x.cmd))
	x.s = s
	if !x.state.CompareAndSwap(execOpening, execStarted) {
		return // the caller gave up while the session opened
	}
	setEnv(s, x.cmd.Env)
	s.Stdin = x.cmd.Stdin
	ticket := c.gate.ticket()
	if err := s.Start(x.cmd.Cmd); err != nil {
		x.res, x.err = pool.Result{ExitStatus: -1}, c.opError("exec", err)
		return
	}
	c.gate.confirm(ticket)
	err = s.Wait()
	x.res = x.out.result(err, time.Since(x.start))
	if lerr := x.out.limitError(); lerr != nil {
		x.err = fmt.Errorf("sshconn: exec on %s: %w", c.target.Addr(), lerr)
		return
	}
	x.err = c.exitError(x.res, err)
}

// cancel is Exec's answer when ctx ends first: a command not yet started
// is abandoned (not started); a started one is interrupted. A command that
// finished meanwhile returns its own outcome.
func (x *execution) cancel() (pool.Result, error) {
	select {
	case <-x.done:
		return x.res, x.err
	default:
	}
	c := x.c
	if x.state.CompareAndSwap(execOpening, execAbandoned) {
		return pool.Result{ExitStatus: -1}, pool.MarkNotStarted(c.opError("new session", x.ctx.Err()))
	}
	ctxErr := fmt.Errorf("sshconn: exec on %s: %w", c.target.Addr(), x.ctx.Err())
	if interrupt(x.s, x.cmd, x.done) {
		return x.res, ctxErr
	}
	// The session did not end after its close: keep what arrived. The
	// goroutine ends at the latest when the connection does.
	return x.out.result(errSessionNotEnded, time.Since(x.start)), ctxErr
}

// errSessionNotEnded stands for the exit of a session that did not end
// after it was signalled and closed.
var errSessionNotEnded = errors.New("sshconn: session did not end after close")

// interrupt sends the signal, waits up to the grace period, then closes the
// session and waits up to the grace period again for its end (done). It
// reports whether the session ended.
func interrupt(s *ssh.Session, cmd pool.Command, done <-chan struct{}) bool {
	sig := cmd.Signal
	if sig == "" {
		sig = ssh.SIGTERM
	}
	_ = s.Signal(sig)
	grace := orDefault(cmd.KillGrace, DefaultKillGrace)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	}
	_ = s.Close()
	t.Reset(grace)
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// openExecSession opens the session of an Exec: it waits, bounded by ctx,
// for the session limit (sessionGate), then opens the channel, learning
// the server's limit from a refusal.
func (c *Client) openExecSession(ctx context.Context) (*ssh.Session, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	ticket, err := c.gate.enter(ctx, c)
	if err != nil {
		return nil, c.opError("new session", err)
	}
	s, err := c.client.NewSession()
	if err != nil {
		err = sessionLimit(err)
		c.gate.refused(failure.Classify(err) == failure.SessionLimit)
		return nil, c.opError("new session", err)
	}
	c.gate.opened(ticket)
	return s, nil
}

// closeExecSession closes s and counts the close for the session gate. By
// then the client has sent its channel close: x/crypto answers the
// server's close before Wait returns, and Close sends one otherwise.
func (c *Client) closeExecSession(s *ssh.Session) {
	_ = s.Close()
	c.gate.exit()
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
// failure.Unknown instead of failure.ConnectionLost (regression test
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
	if len(env) == 0 {
		return
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		_ = s.Setenv(k, env[k]) // a refused variable is ignored (AcceptEnv)
	}
}
