package legacy

import (
	"bytes"
	"context"

	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/pool"
)

// runCombined runs cmd on c and returns its standard output and standard
// error interleaved, as the old pool's CombinedOutput did. It is shared by
// the legacy pool and the adapter so both return the same output and the
// same error shape (*CommandError) for the same situation.
func runCombined(ctx context.Context, c pool.SSHClient, key, cmd string) (string, error) {
	var buf capture.Buffer
	_, err := c.Exec(ctx, pool.Command{Cmd: cmd, Stdout: &buf, Stderr: &buf})
	out := buf.String()
	if err != nil {
		return out, &CommandError{Op: OpExec, Key: key, Cmd: cmd, Output: out, Err: err}
	}
	return out, nil
}

// runStream runs cmd on c and sends each line of its standard output to out
// (without the newline) as it arrives. A final line without a newline is
// sent too. out is not closed. Standard error is kept for the error.
func runStream(ctx context.Context, c pool.SSHClient, key, cmd string, out chan<- string) error {
	lw := &lineWriter{ctx: ctx, out: out}
	var stderr capture.Buffer
	_, err := c.Exec(ctx, pool.Command{Cmd: cmd, Stdout: lw, Stderr: &stderr})
	if ferr := lw.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return &CommandError{Op: OpStream, Key: key, Cmd: cmd, Output: stderr.String(), Err: err}
	}
	return nil
}

// runHealth runs the health command and discards its output.
func runHealth(ctx context.Context, c pool.SSHClient, key, cmd string) error {
	if _, err := c.Run(ctx, cmd); err != nil {
		return &CommandError{Op: OpHealth, Key: key, Cmd: cmd, Err: err}
	}
	return nil
}

// lineWriter splits what is written into lines and sends each on out,
// blocking until the receiver takes it or ctx ends. Only the session's
// stdout copier writes to it, so it needs no lock.
type lineWriter struct {
	ctx     context.Context
	out     chan<- string
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			return n, nil
		}
		line := string(append(w.partial, p[:i]...))
		w.partial = w.partial[:0]
		p = p[i+1:]
		if err := w.send(line); err != nil {
			return 0, err
		}
	}
}

// flush sends a final line that had no newline.
func (w *lineWriter) flush() error {
	if len(w.partial) == 0 {
		return nil
	}
	line := string(w.partial)
	w.partial = nil
	return w.send(line)
}

func (w *lineWriter) send(line string) error {
	select {
	case w.out <- line:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}
