package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"

	"github.com/sshpool/sshpool/pool"
)

const execUsage = "usage: sshpool exec [-config FILE] [-embedded] KEY -- CMD [ARG...]"

// runExec runs one command through a pool and exits with its status.
func runExec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t poolTarget
	t.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, cmd, err := splitKeyCommand(fs.Args())
	if err != nil {
		return err
	}
	p, closeAll, err := t.open(key, stderr)
	if err != nil {
		return err
	}
	defer closeAll()
	_, err = p.Exec(ctx, key, pool.Command{Cmd: cmd, Stdout: stdout, Stderr: stderr})
	var exitErr *pool.ExitError
	if errors.As(err, &exitErr) {
		if st := exitErr.Result.ExitStatus; st > 0 && st < 256 {
			return exitCode(st)
		}
		return exitCode(255)
	}
	return err
}

// splitKeyCommand takes "KEY -- CMD..." (the "--" optional).
func splitKeyCommand(args []string) (key, cmd string, err error) {
	if len(args) < 2 {
		return "", "", errors.New(execUsage)
	}
	key, rest := args[0], args[1:]
	if rest[0] == "--" {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return "", "", errors.New(execUsage)
	}
	return key, strings.Join(rest, " "), nil
}
