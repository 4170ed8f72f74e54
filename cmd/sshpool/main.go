// Command sshpool demonstrates and operates the sshpool SSH connection pool.
//
// Usage:
//
//	sshpool demo [-jobs N] [-concurrency N]
//	sshpool serve [-config FILE] [-flags FILE] [-admin ADDR] [-embedded=false] [-v]
//	sshpool exec [-config FILE] [-embedded] KEY -- CMD...
//	sshpool bench [-config FILE] [-key KEY] [-n N] [-c C] [-cmd CMD]
//	sshpool config defaults|validate FILE|export FILE [-preset NAME]
//	sshpool flags validate [-strict] [-json] FILE
//	sshpool flags eval FILE (-servers CONFIG | -server SPEC ...) [-root] [-json]
//	sshpool flags eval FILE -server-id ID [-host H] [-port P] [-user U] [-root] [-name N]
//	sshpool flags diff OLD NEW (-servers CONFIG | -server SPEC ...) [-root] [-json]
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
// for key "demo" unless -config is given). config prints, validates or
// exports configuration; flags lints a flag file (every problem with its
// line and column, exit 1 when it would be refused, or with -strict on any
// warning), shows where it routes a set of servers and why, or which
// servers change pool between two flag files.
//
// Exit codes: 0 success, 1 error, 2 usage; exec exits with the remote
// command's status (255 when it was killed by a signal).
package main

import (
	"context"
	"errors"
	"fmt"
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

// command is one sub-command of the CLI.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "run commands through a pool against an embedded SSH server", runDemo},
		{"serve", "run the migration layer with admin HTTP until SIGINT/SIGTERM", runServe},
		{"exec", "run one command through a pool: exec KEY -- CMD", runExec},
		{"bench", "run N commands at concurrency C and print ops/s and latency", runBench},
		{"config", "print defaults, validate or export a config file", runConfig},
		{"flags", "lint a flag file, show where it routes servers, diff two", runFlags},
	}
}

// run dispatches args to a sub-command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
			var code exitCode
			if errors.As(err, &code) {
				return int(code)
			}
			fmt.Fprintf(stderr, "sshpool %s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "sshpool: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sshpool <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'sshpool <command> -h' for a command's flags.")
}
