package sshtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// ExitSignalled is the status a Handler returns to report that it was
// terminated by a signal, like os.ProcessState.ExitCode's -1. The server then
// sends "exit-signal" with the name of the signal the session received
// (Session.Signal), or "KILL" if none was received, instead of
// "exit-status". Any negative status is treated the same way.
const ExitSignalled = -1

// ExitNotFound is the status of an unknown command, as in a POSIX shell.
const ExitNotFound = 127

// Handler runs one exec or shell request and returns its exit status, which
// the server sends as "exit-status" (or "exit-signal" for a negative
// status, see ExitSignalled) before closing the channel.
//
// ctx is cancelled when the session receives a "signal" request, when the
// client closes the channel, and when the connection or the server closes.
// The handler runs on its own goroutine and must return soon after ctx is
// done; Close waits for it.
type Handler func(ctx context.Context, s *Session) int

// Session describes one exec or shell request. Its fields must not be
// modified by the handler.
type Session struct {
	// User is the authenticated user name.
	User string
	// Command is the exec command line; it is empty for a shell request.
	Command string
	// Args is Command split on white space (strings.Fields).
	Args []string
	// Env holds the variables set by "env" requests before the command
	// started; it is never nil.
	Env map[string]string
	// PTY reports whether the client requested a pseudo-terminal; no
	// terminal is allocated.
	PTY bool
	// Hostname is the server's name (WithHostname).
	Hostname string
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
	// Stdin reads the data the client sends; it returns io.EOF when the
	// client closes its side.
	Stdin io.Reader
	// Stdout and Stderr send data to the client's standard output and
	// standard error.
	Stdout, Stderr io.Writer

	state *sessionState // shared by copies of the Session
}

// sessionState is the part of a Session that changes while the handler runs.
type sessionState struct {
	signal  atomic.Pointer[ssh.Signal] // the first signal received
	helpers sync.WaitGroup             // goroutines that outlive the handler until the channel closes
}

// Signal returns the first signal the session received, or "" if none.
func (s *Session) Signal() ssh.Signal {
	if p := s.state.signal.Load(); p != nil {
		return *p
	}
	return ""
}

// DefaultHandler runs these built-in commands:
//
//	echo ARGS...    print ARGS separated by spaces
//	true, false     exit 0, exit 1
//	exit [N]        exit N (default 0, taken modulo 256)
//	sleep SECONDS   sleep (fractions allowed); a signal ends it with exit-signal
//	cat             copy stdin to stdout until EOF; a signal ends it with exit-signal
//	hostname        print Session.Hostname
//	whoami          print the user name
//	env             print the variables set by env requests, sorted, as NAME=VALUE
//	stderr TEXT...  print TEXT to stderr, exit 0
//	yes [N [TEXT]]  print N lines of TEXT (default "y"; without N until cancelled)
//
// Any other command prints "sshtest: command not found: NAME" to stderr and
// exits 127. A shell request (empty command) reads command lines from stdin
// and runs each (without stdin) until "exit" or EOF.
//
// A command line is one command and its arguments, split into words as a
// shell splits a simple command: 'single' and "double" quotes and
// backslash escapes work. There is no shell: a line that needs one (";",
// "&&", "|", redirections, "$VAR", globs, NAME=value, ...) is not run; the
// handler prints "sshtest: unsupported shell syntax: ..." naming what and
// where to stderr and exits ExitSyntax (2), instead of running part of it.
func DefaultHandler(ctx context.Context, s *Session) int {
	if s.Command == "" {
		return runShell(ctx, s)
	}
	return runLine(ctx, s, s.Command)
}

// runLine splits line into words and runs them as a built-in command.
func runLine(ctx context.Context, s *Session, line string) int {
	args, err := splitCommand(line)
	if err != nil {
		fmt.Fprintf(s.Stderr, "sshtest: %v\n", err)
		return ExitSyntax
	}
	return runBuiltin(ctx, s, args)
}

func runBuiltin(ctx context.Context, s *Session, args []string) int {
	if len(args) == 0 {
		return 0
	}
	switch args[0] {
	case "echo":
		return printLine(s.Stdout, strings.Join(args[1:], " "))
	case "true":
		return 0
	case "false":
		return 1
	case "exit":
		return exitBuiltin(s, args[1:])
	case "sleep":
		return sleepBuiltin(ctx, s, args[1:])
	case "cat":
		return catBuiltin(ctx, s)
	case "hostname":
		return printLine(s.Stdout, s.Hostname)
	case "whoami":
		return printLine(s.Stdout, s.User)
	case "env":
		return envBuiltin(s)
	case "stderr":
		return printLine(s.Stderr, strings.Join(args[1:], " "))
	case "yes":
		return yesBuiltin(ctx, s, args[1:])
	}
	fmt.Fprintf(s.Stderr, "sshtest: command not found: %s\n", args[0])
	return ExitNotFound
}

// printLine writes text and a newline to w; it exits 1 if the write fails.
func printLine(w io.Writer, text string) int {
	if _, err := io.WriteString(w, text+"\n"); err != nil {
		return 1
	}
	return 0
}

func usage(s *Session, msg string) int {
	fmt.Fprintf(s.Stderr, "sshtest: %s\n", msg)
	return 2
}

func exitBuiltin(s *Session, args []string) int {
	if len(args) == 0 {
		return 0
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return usage(s, "exit: numeric argument required")
	}
	return n & 0xff
}

func sleepBuiltin(ctx context.Context, s *Session, args []string) int {
	if len(args) != 1 {
		return usage(s, "sleep: usage: sleep SECONDS")
	}
	secs, err := strconv.ParseFloat(args[0], 64)
	if err != nil || secs < 0 || secs > 1e6 {
		return usage(s, "sleep: invalid time interval")
	}
	t := time.NewTimer(time.Duration(secs * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return 0
	case <-ctx.Done():
		return ExitSignalled
	}
}

// catBuiltin copies stdin to stdout. The copy runs on a helper goroutine so
// that a signal can end the command while a read is blocked; the helper ends
// when the channel closes.
func catBuiltin(ctx context.Context, s *Session) int {
	done := make(chan error, 1)
	s.state.helpers.Go(func() {
		_, err := io.Copy(s.Stdout, s.Stdin)
		done <- err
	})
	select {
	case err := <-done:
		if err != nil {
			return 1
		}
		return 0
	case <-ctx.Done():
		return ExitSignalled
	}
}

func envBuiltin(s *Session) int {
	names := make([]string, 0, len(s.Env))
	for name := range s.Env {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if printLine(s.Stdout, name+"="+s.Env[name]) != 0 {
			return 1
		}
	}
	return 0
}

func yesBuiltin(ctx context.Context, s *Session, args []string) int {
	n, text := -1, "y"
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil || n < 0 {
			return usage(s, "yes: usage: yes [N [TEXT]]")
		}
	}
	if len(args) > 1 {
		text = strings.Join(args[1:], " ")
	}
	for i := 0; n < 0 || i < n; i++ {
		if ctx.Err() != nil {
			return ExitSignalled
		}
		if printLine(s.Stdout, text) != 0 {
			return 1
		}
	}
	return 0
}

// runShell runs each line read from stdin as a built-in command, with an
// empty stdin, until "exit", EOF or cancellation. It returns the status of
// the last command.
func runShell(ctx context.Context, s *Session) int {
	line := *s
	line.Stdin = strings.NewReader("")
	status := 0
	sc := bufio.NewScanner(s.Stdin)
	for ctx.Err() == nil && sc.Scan() {
		status = runLine(ctx, &line, sc.Text())
		if args := strings.Fields(sc.Text()); len(args) > 0 && args[0] == "exit" {
			return status
		}
	}
	if ctx.Err() != nil {
		return ExitSignalled
	}
	return status
}
