package legacy

import (
	"context"

	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/pool"
)

// withFunc runs fn on a client for one operation op, bounded by the
// backend's timeout for op and by ctx, with the backend's retries (a
// session-limit refusal waits and tries again; a connection found dead
// before the command started is replaced and the command tried again). fn
// gets the bounded context. Failures before fn could run are marked
// pool.ErrNotStarted. The legacy pool's and the adapter's connections
// implement it; execVia, streamVia and healthVia build the commands on it,
// so that both return the same output and errors for the same situation.
type withFunc func(ctx context.Context, op string, fn clientOp) error

// clientOp is what a withFunc runs on a client. It is an interface rather
// than a func value so that a command's state and the code that runs it
// are one allocation (an *execOp), not a closure over a separately
// allocated buffer.
type clientOp interface {
	run(ctx context.Context, c pool.SSHClient) error
}

// clientFunc is a function as a clientOp.
type clientFunc func(context.Context, pool.SSHClient) error

func (f clientFunc) run(ctx context.Context, c pool.SSHClient) error { return f(ctx, c) }

// execOp is ExecuteCommand's clientOp: the command and its output, both
// streams into one buffer.
type execOp struct {
	cmd string
	out capture.Buffer
}

func (x *execOp) run(ctx context.Context, c pool.SSHClient) error {
	_, err := c.Exec(ctx, pool.Command{Cmd: x.cmd, Stdout: &x.out, Stderr: &x.out})
	return err
}

// execVia runs cmd and returns its standard output and standard error
// interleaved, as the old pool's CombinedOutput did.
func execVia(ctx context.Context, with withFunc, key, cmd string) (string, error) {
	x := &execOp{cmd: cmd}
	err := with(ctx, OpExec, x)
	out := x.out.String()
	if err != nil {
		return out, &CommandError{Op: OpExec, Key: key, Cmd: cmd, Output: out, Err: err}
	}
	return out, nil
}

// streamVia runs cmd and sends its output on out as "[OUT] " and "[ERR] "
// lines (see PooledConnection.ExecuteCommandStream). Lines the reader did
// not take are counted with dropped and logged.
func streamVia(ctx context.Context, with withFunc, cfg *config, key, cmd string, out chan<- string, dropped func(int64)) error {
	q := newLineQueue(cfg.streamLines, maxQueueBytes)
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		q.forward(ctx, out, cfg.streamIdle)
	}()
	stdout, stderr := &lineWriter{q: q, prefix: PrefixOut}, &lineWriter{q: q, prefix: PrefixErr}
	err := with(ctx, OpStream, clientFunc(func(ctx context.Context, c pool.SSHClient) error {
		_, err := c.Exec(ctx, pool.Command{Cmd: cmd, Stdout: stdout, Stderr: stderr})
		return err
	}))
	stdout.flush()
	stderr.flush()
	q.finish()
	<-forwarded
	if n := q.droppedLines(); n > 0 {
		dropped(n)
		cfg.logger.Warn("legacy: stream lines not delivered: the reader did not keep up",
			"key", key, "dropped", n, "buffer_lines", cfg.streamLines)
	}
	if err != nil {
		return &CommandError{Op: OpStream, Key: key, Cmd: cmd, Err: err}
	}
	return nil
}

// healthVia runs the health command and discards its output.
func healthVia(with withFunc, key, cmd string) error {
	err := with(context.Background(), OpHealth, clientFunc(func(ctx context.Context, c pool.SSHClient) error {
		_, err := c.Run(ctx, cmd)
		return err
	}))
	if err != nil {
		return &CommandError{Op: OpHealth, Key: key, Cmd: cmd, Err: err}
	}
	return nil
}

// clientVia runs fn on a client (SSHManager.WithClient).
func clientVia(ctx context.Context, with withFunc, key string, fn func(context.Context, pool.SSHClient) error) error {
	err := with(ctx, OpClient, clientFunc(fn))
	if err != nil {
		return &CommandError{Op: OpClient, Key: key, Err: err}
	}
	return nil
}
