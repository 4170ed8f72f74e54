package sshconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

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
// non-zero or is killed returns an error wrapping *pool.ExitError. When ctx
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
	out := newOutputs(s, cmd)
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
	return res, c.exitError(res, err)
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
	var (
		exitErr *ssh.ExitError
		missing *ssh.ExitMissingError
	)
	switch {
	case err == nil:
		return nil
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

// outputs captures or streams a session's stdout and stderr.
type outputs struct {
	stdout, stderr *lockedBuffer // nil when streaming
}

func newOutputs(s *ssh.Session, cmd pool.Command) *outputs {
	o := &outputs{}
	s.Stdout, o.stdout = sink(cmd.Stdout)
	s.Stderr, o.stderr = sink(cmd.Stderr)
	return o
}

func sink(w io.Writer) (io.Writer, *lockedBuffer) {
	if w != nil {
		return w, nil
	}
	b := &lockedBuffer{}
	return b, b
}

func (o *outputs) result(err error, d time.Duration) pool.Result {
	res := pool.Result{Stdout: o.stdout.snapshot(), Stderr: o.stderr.snapshot(), Duration: d, ExitStatus: -1}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		res.ExitStatus = 0
	case errors.As(err, &exitErr):
		res.Signal = exitErr.Signal()
		if res.Signal == "" {
			res.ExitStatus = exitErr.ExitStatus()
		}
	}
	return res
}

// lockedBuffer is a bytes.Buffer safe for one writer (x/crypto's copy
// goroutine) and a concurrent snapshot (after a cancelled Exec gave up
// waiting).
type lockedBuffer struct {
	// mu guards buf.
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) snapshot() []byte {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
