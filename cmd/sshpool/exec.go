package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

const execLong = `Run one command through a pool and exit with its remote status.

KEY is a target of the config file (targets.KEY), an ssh_config alias, or
[user@]host[:port]; without --config, key "demo" is an embedded SSH server.
Everything after "--" is the remote command, sent as one line; put flags of
sshpool before "--" (anywhere) and the command's own flags after it.

Exit status: the remote command's; 255 when the command could not be run
or its end was not reported (connection, authentication, host key, a
command killed by a signal), as ssh; 1 when the config is wrong; 2 on a
usage error.`

func newExecCmd() *cobra.Command {
	var (
		t      poolTarget
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "exec KEY -- CMD [ARG...]",
		Short: "Run one command through a pool and exit with its remote status",
		Long:  execLong,
		Example: `  sshpool exec demo -- echo hello
  sshpool exec --config sshpool.yaml web-1 -- ls -l /var/log`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			key, line, err := splitKeyCommand(a, cmd.ArgsLenAtDash())
			if err != nil {
				return err
			}
			return runExec(cmd.Context(), &t, key, line, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	t.register(c.Flags())
	addJSONFlag(c, &asJSON)
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usagef("%v (a remote command with flags of its own goes after --: sshpool exec KEY -- CMD)", err)
	})
	return c
}

// splitKeyCommand takes the arguments of "KEY -- CMD..." (the "--" optional
// when CMD has no flags); dash is where "--" was (cobra's ArgsLenAtDash,
// -1 for none). A "--" later on the line belongs to the command.
func splitKeyCommand(a []string, dash int) (key, line string, err error) {
	if dash == 0 {
		return "", "", usagef("missing KEY before --")
	}
	if len(a) < 2 {
		return "", "", usagef("missing command: sshpool exec KEY -- CMD [ARG...]")
	}
	words := a[1:]
	if dash > 1 {
		words = append(append(append([]string{}, a[1:dash]...), "--"), a[dash:]...)
	}
	return a[0], strings.Join(words, " "), nil
}

// runExec runs line on key and maps the outcome to the exit status.
func runExec(ctx context.Context, t *poolTarget, key, line string, asJSON bool, stdout, stderr io.Writer) error {
	p, cfg, closeAll, err := t.open(key, stderr)
	if err != nil {
		return err
	}
	defer closeAll()
	cmd := pool.Command{Cmd: line, Stdout: stdout, Stderr: stderr}
	var out execOutput
	if asJSON {
		cmd.Stdout, cmd.Stderr = &out.stdout, &out.stderr
	}
	res, err := p.Exec(ctx, key, cmd)
	if asJSON {
		if jerr := writeJSON(stdout, newExecResult(key, line, res, err, &out)); jerr != nil {
			return jerr
		}
	}
	var exitErr *pool.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		if st := exitErr.Result.ExitStatus; st > 0 && st < exitSSH {
			return exitCode(st)
		}
		if asJSON {
			return exitCode(exitSSH)
		}
		return &codedError{exitSSH, err}
	case asJSON:
		return exitCode(exitSSH)
	}
	return &codedError{exitSSH, explainKey(err, key, targetKeys(cfg))}
}

// explainKey adds the configured targets to an error that says key is
// neither a target nor a resolvable host (no target, a name that does not
// exist, no usable address).
func explainKey(err error, key string, targets []string) error {
	var addrErr *net.AddrError
	unknown := errors.Is(err, sshconn.ErrNotFound) || failure.Classify(err) == failure.DNSNotFound || errors.As(err, &addrErr)
	if slices.Contains(targets, key) || !unknown {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("%q is not a configured target and does not resolve (no targets configured; --config FILE adds some): %w", key, err)
	}
	return fmt.Errorf("%q is not a configured target (targets: %s) and does not resolve: %w", key, strings.Join(targets, ", "), err)
}

// maxJSONOutput bounds the output exec --json keeps of each stream; the
// rest is counted, not kept.
const maxJSONOutput = 1 << 20

// execOutput captures a command's output for --json, bounded.
type execOutput struct{ stdout, stderr cappedBuffer }

// cappedBuffer keeps the first maxJSONOutput bytes written to it and
// counts the rest.
type cappedBuffer struct {
	b       []byte
	dropped int64
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	n := min(len(p), maxJSONOutput-len(c.b))
	c.b = append(c.b, p[:n]...)
	c.dropped += int64(len(p) - n)
	return len(p), nil
}

// execResult is exec --json's document.
type execResult struct {
	Key     string `json:"key"`
	Command string `json:"command"`
	// Ran is whether the command ran and reported its end; when false,
	// Error says why (exit code 255).
	Ran bool `json:"ran"`
	// ExitStatus is the remote status; -1 when killed by a signal or not
	// reported.
	ExitStatus int `json:"exit_status"`
	// Signal is the signal that killed the command ("TERM"), if any.
	Signal string `json:"signal,omitempty"`
	// Stdout and Stderr are the output (the first MiB of each, as text;
	// invalid UTF-8 is replaced), *Truncated the bytes left out.
	Stdout          string  `json:"stdout"`
	Stderr          string  `json:"stderr"`
	StdoutTruncated int64   `json:"stdout_truncated_bytes,omitempty"`
	StderrTruncated int64   `json:"stderr_truncated_bytes,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
	// Error is the SSH-level failure and ErrorKind its class (failure.Classify).
	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`
}

func newExecResult(key, line string, res pool.Result, err error, out *execOutput) execResult {
	r := execResult{Key: key, Command: line, ExitStatus: res.ExitStatus,
		Stdout: string(out.stdout.b), Stderr: string(out.stderr.b),
		StdoutTruncated: out.stdout.dropped, StderrTruncated: out.stderr.dropped}
	var exitErr *pool.ExitError
	switch {
	case err == nil:
		r.Ran = true
	case errors.As(err, &exitErr):
		r.Ran = exitErr.Result.ExitStatus >= 0
		r.ExitStatus, r.Signal = exitErr.Result.ExitStatus, exitErr.Result.Signal
		res = exitErr.Result
	default:
		r.ExitStatus = -1
		r.Error, r.ErrorKind = err.Error(), failure.Classify(err).String()
	}
	r.DurationSeconds = res.Duration.Seconds()
	return r
}
