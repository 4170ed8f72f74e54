package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes of the CLI. exec also exits with the remote command's status.
const (
	exitOK    = 0
	exitError = 1
	// exitUsage is a command line the CLI does not understand.
	exitUsage = 2
	// exitSSH is an SSH-level failure of exec: the command could not be
	// run, or its end was not reported (ssh's convention).
	exitSSH = 255
)

// usageError is a command line mistake: reported with a pointer to the
// command's help, exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode makes the CLI exit with the code without printing anything (the
// command already reported, as exec does with the remote status).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// codedError is an error reported as usual but with its own exit code.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// report prints err for the command that returned it and returns the exit
// code: usage errors point to the command's help.
func report(cmd *cobra.Command, err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	path := "sshpool"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "%s: %v\n", path, err)
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", path)
		return exitUsage
	}
	var coded *codedError
	if errors.As(err, &coded) {
		return coded.code
	}
	return exitError
}
