package sshconn

import (
	"errors"
	"io"
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

// outputs captures or streams a session's stdout and stderr, and stops
// the session when captured output passes its limit.
//
// The buffers are internal/capture's: they implement io.ReaderFrom over a
// pooled chunk, so x/crypto's io.Copy of each stream allocates nothing for
// a command without output (a writer without ReadFrom made it allocate
// 32 KiB per stream per command: 65 of the 72 KB a Pool.Run allocated).
type outputs struct {
	stdout, stderr capture.Buffer
	capOut, capErr bool // the stream is captured, not streamed
	s              *ssh.Session
	signal         ssh.Signal
	limit          int64       // bytes per captured stream; 0 = none
	stopped        atomic.Bool // stop has run
}

// init attaches o to s for cmd, limiting captured streams to limit bytes.
func (o *outputs) init(s *ssh.Session, cmd pool.Command, limit int64) {
	o.s, o.signal, o.limit = s, cmd.Signal, limit
	if o.signal == "" {
		o.signal = ssh.SIGTERM
	}
	var stop func()
	if limit > 0 {
		stop = o.stop
	}
	s.Stdout, o.capOut = o.sink(&o.stdout, cmd.Stdout, stop)
	s.Stderr, o.capErr = o.sink(&o.stderr, cmd.Stderr, stop)
}

// sink returns w when the caller streams (behind capture.Stream, for the
// same reason as the buffers), else b limited to o.limit.
func (o *outputs) sink(b *capture.Buffer, w io.Writer, stop func()) (io.Writer, bool) {
	if w != nil {
		return capture.Stream(w), false
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
