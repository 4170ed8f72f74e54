// Command sshpool demonstrates and operates the sshpool SSH connection pool.
//
// Usage:
//
//	sshpool demo [--jobs N] [--concurrency N] [--json]
//	sshpool serve [--config FILE] [--flags FILE] [--admin ADDR] [--embedded=false] [-v]
//	sshpool exec [--config FILE] [--embedded] [--json] KEY -- CMD [ARG...]
//	sshpool bench [--config FILE] [--key KEY] [-n N] [-c C] [--cmd CMD] [--json]
//	sshpool config defaults|validate FILE|export FILE [--preset NAME] [--json]
//	sshpool flags validate [--strict] [--json] [--max-bytes N] FILE
//	sshpool flags eval FILE (--servers CONFIG | --server SPEC...) [--root] [--json]
//	sshpool flags eval FILE --server-id ID [--host H] [--port P] [--user U] [--root] [--name N]
//	sshpool flags diff OLD NEW (--servers CONFIG | --server SPEC...) [--root] [--json]
//	sshpool version [--json]
//	sshpool completion bash|zsh|fish
//	sshpool help [COMMAND]
//
// demo starts an in-process SSH server (package sshtest) on 127.0.0.1,
// dials it through package sshconn with strict host key checking, and runs
// commands through a pool.Pool, printing what the pool did.
//
// serve runs the migration layer under fx (package app) until SIGINT or
// SIGTERM, by default with an embedded SSH server registered as key "demo"
// and a 50 % rollout flag file. exec runs one command through a pool and
// exits with its remote status; bench runs N commands at concurrency C and
// prints throughput and latency percentiles (both use the embedded server
// for key "demo" unless --config is given). config prints, validates or
// exports configuration; flags lints a flag file (every problem with its
// line and column; exit 1 when it would be refused, or with --strict on any
// warning), shows where it routes a set of servers and why, or which
// servers change pool between two flag files.
//
// Flags may come anywhere on the line, before or after the arguments; an
// exec command that has flags of its own goes after "--". The single-dash
// spellings of long flags (-config FILE) are accepted too.
//
// Exit codes: 0 success (and -h, --help, help), 1 error, 2 usage error;
// exec exits with the remote command's status, and 255 when the command
// could not be run or its end was not reported (an SSH-level failure, a
// command killed by a signal), as ssh does.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit code.
// Output goes to stdout (results, help) and stderr (errors, progress).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(singleDashLong(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	return report(cmd, err, stderr)
}
