package sshconn_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// spew handles "spew [N]" and "spew-stderr" by writing 32 KiB blocks of
// "y\n" to stdout or stderr, N of them or until the channel fails or the
// session is signalled (sshtest's yes writes a packet per line: too slow
// for megabytes); other commands run the default handler.
func spew(ctx context.Context, s *sshtest.Session) int {
	w, n := s.Stdout, -1
	switch {
	case len(s.Args) == 2 && s.Args[0] == "spew":
		n, _ = strconv.Atoi(s.Args[1])
	case s.Command == "spew":
	case s.Command == "spew-stderr":
		w = s.Stderr
	default:
		return sshtest.DefaultHandler(ctx, s)
	}
	block := yesOutput(spewBlock)
	for i := 0; n < 0 || i < n; i++ {
		if ctx.Err() != nil {
			return sshtest.ExitSignalled
		}
		if _, err := w.Write(block); err != nil {
			return 1
		}
	}
	return 0
}

const spewBlock = 32 << 10

// yesOutput is what "yes" writes, cut to n bytes.
func yesOutput(n int) []byte { return bytes.Repeat([]byte("y\n"), n/2+1)[:n] }

// TestExecOutputLimit: captured output past the limit is cut at the limit,
// the command is stopped (Exec returns although it would never end), the
// error says which stream and limit, and the connection stays usable.
func TestExecOutputLimit(t *testing.T) {
	e := newEnv(t, sshtest.WithHandler(spew))
	for _, tc := range []struct {
		name       string
		opts       []sshconn.FactoryOption
		cmd        pool.Command
		stream     string
		limit      int64
		wantStdout []byte
	}{
		{"stdout", nil, pool.Command{Cmd: "yes", MaxOutput: 1001}, "stdout", 1001, yesOutput(1001)},
		{"stderr", nil, pool.Command{Cmd: "spew-stderr", MaxOutput: 4097}, "stderr", 4097, nil},
		{"factory default", []sshconn.FactoryOption{sshconn.WithMaxOutput(300)}, pool.Command{Cmd: "yes"}, "stdout", 300, yesOutput(300)},
		{"command overrides factory", []sshconn.FactoryOption{sshconn.WithMaxOutput(300)}, pool.Command{Cmd: "yes", MaxOutput: 50}, "stdout", 50, yesOutput(50)},
		{"package default", nil, pool.Command{Cmd: "spew"}, "stdout", sshconn.DefaultMaxOutput, yesOutput(sshconn.DefaultMaxOutput)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustDial(t, e.target(), tc.opts...)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := c.Exec(ctx, tc.cmd)
			var lerr *pool.OutputLimitError
			if !errors.As(err, &lerr) || lerr.Stream != tc.stream || lerr.Limit != tc.limit {
				t.Fatalf("err = %v; want *pool.OutputLimitError{%s, %d}", err, tc.stream, tc.limit)
			}
			if failure.Classify(err) != failure.Exit || errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("kind %v; want exit, not a timeout", failure.Classify(err))
			}
			got := res.Stdout
			if tc.stream == "stderr" {
				got = res.Stderr
			}
			if int64(len(got)) != tc.limit {
				t.Errorf("kept %d bytes of %s; want the limit, %d", len(got), tc.stream, tc.limit)
			}
			if tc.wantStdout != nil && !bytes.Equal(res.Stdout, tc.wantStdout) {
				t.Errorf("stdout is not the command's first %d bytes", tc.limit)
			}
			if got := mustRun(t, c, "echo alive"); got != "alive" || !c.Alive() {
				t.Fatalf("connection unusable after an output limit: %q", got)
			}
		})
	}
}

// TestExecOutputWithinLimit: output up to the limit, or any output with no
// limit, is returned whole and is no error.
func TestExecOutputWithinLimit(t *testing.T) {
	e := newEnv(t, sshtest.WithHandler(spew))
	for _, tc := range []struct {
		name string
		opts []sshconn.FactoryOption
		cmd  pool.Command
		want []byte
	}{
		{"exactly the limit", nil, pool.Command{Cmd: "yes 50", MaxOutput: 100}, yesOutput(100)},
		{"negative is unlimited", []sshconn.FactoryOption{sshconn.WithMaxOutput(10)},
			pool.Command{Cmd: "spew 40", MaxOutput: -1}, bytes.Repeat(yesOutput(spewBlock), 40)},
		{"factory unlimited", []sshconn.FactoryOption{sshconn.WithMaxOutput(-1)},
			pool.Command{Cmd: "spew 40"}, bytes.Repeat(yesOutput(spewBlock), 40)},
		{"past the package default", []sshconn.FactoryOption{sshconn.WithMaxOutput(-1)},
			pool.Command{Cmd: "spew 520"}, bytes.Repeat(yesOutput(spewBlock), 520)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustDial(t, e.target(), tc.opts...)
			res, err := c.Exec(context.Background(), tc.cmd)
			if err != nil || !bytes.Equal(res.Stdout, tc.want) || res.ExitStatus != 0 {
				t.Fatalf("got %d bytes, status %d, err %v; want %d bytes, 0, nil", len(res.Stdout), res.ExitStatus, err, len(tc.want))
			}
		})
	}
}

// TestExecStreamedOutputUnlimited: the limit bounds captured output only;
// a caller's writer receives everything.
func TestExecStreamedOutputUnlimited(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target(), sshconn.WithMaxOutput(10))
	var out bytes.Buffer
	res, err := c.Exec(context.Background(), pool.Command{Cmd: "yes 1000", Stdout: &out})
	if err != nil || !bytes.Equal(out.Bytes(), yesOutput(2000)) || res.Stdout != nil {
		t.Fatalf("streamed %d bytes, err %v; want 2000, nil", out.Len(), err)
	}
}

// TestSSHDExecOutputLimit: against OpenSSH, a command that writes without
// end is stopped at the limit and the connection keeps serving.
func TestSSHDExecOutputLimit(t *testing.T) {
	e := newSSHD(t)
	c := mustDial(t, e.target())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		cmd    string
		stream string
	}{{"yes", "stdout"}, {"yes >&2", "stderr"}} {
		res, err := c.Exec(ctx, pool.Command{Cmd: tc.cmd, MaxOutput: 64 << 10})
		var lerr *pool.OutputLimitError
		if !errors.As(err, &lerr) || lerr.Stream != tc.stream || len(res.Stdout)+len(res.Stderr) != 64<<10 {
			t.Fatalf("%q: %d+%d bytes, err %v; want 64 KiB of %s and *pool.OutputLimitError", tc.cmd, len(res.Stdout), len(res.Stderr), err, tc.stream)
		}
		if got := mustRun(t, c, "echo alive"); got != "alive" {
			t.Fatalf("connection unusable after an output limit: %q", got)
		}
	}
}

// TestExecBoundedByContextWhileOpening: a server that does not answer the
// channel open holds Exec only until ctx ends; the command is reported not
// started, never runs, and the session that opens late is closed.
func TestExecBoundedByContextWhileOpening(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	e.srv.Stall()
	defer e.srv.Unstall()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Exec(ctx, pool.Command{Cmd: "echo should-not-run"})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, pool.ErrNotStarted) || time.Since(start) > promptly {
		t.Fatalf("err = %v after %v; want a not-started deadline error at once", err, time.Since(start))
	}
	e.srv.Unstall()
	waitFor(t, func() bool { return e.srv.Stats().ChannelsOpen == 0 && e.srv.Stats().ChannelsOpened == 1 },
		"the late session must be closed")
	if got := mustRun(t, c, "echo alive"); got != "alive" {
		t.Fatalf("connection unusable after an abandoned open: %q", got)
	}
	if n := e.srv.Stats().Execs; n != 1 {
		t.Errorf("server ran %d commands; want 1 (only the last; the abandoned one never)", n)
	}
}
