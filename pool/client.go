package pool

import (
	"context"
	"io"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHClient is one SSH connection as the pool and its callers see it. The
// pool hands out lease handles that implement SSHClient; the connection
// factory (package sshconn) provides the real implementation on
// golang.org/x/crypto/ssh.
//
// Every method is safe for concurrent use. One SSH connection multiplexes
// many channels, so several sessions may run at once on one SSHClient, up
// to the server's MaxSessions (OpenSSH: 10).
type SSHClient interface {
	// Run runs cmd in a new session and waits for it. It is Exec with
	// output captured into the Result.
	Run(ctx context.Context, cmd string) (Result, error)

	// Exec runs c in a new session and waits for it. When ctx ends before
	// the command does, the remote process is sent c.Signal (SIGTERM by
	// default) and, after c.KillGrace, the session, and only the session, is
	// closed: the shared connection stays open. The error then wraps
	// ctx.Err(). A command that ran and exited non-zero, or was killed by a
	// signal, returns a *ExitError carrying the Result.
	Exec(ctx context.Context, c Command) (Result, error)

	// NewSession opens a raw session channel for callers that need full
	// control (pty, subsystems such as sftp, interactive shells). The caller
	// must Close it. ctx bounds only the channel open.
	NewSession(ctx context.Context) (*ssh.Session, error)

	// DialContext opens a direct-tcpip channel (a tunnel) from the server to
	// addr ("host:port"). network must be "tcp" (or "tcp4"/"tcp6").
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)

	// SendKeepalive sends keepalive@openssh.com with want-reply and returns
	// the round-trip time. A probe that does not answer before ctx ends (or
	// the implementation's probe timeout, whichever is sooner) closes the
	// client, because a request that never answers blocks the connection
	// forever.
	SendKeepalive(ctx context.Context) (time.Duration, error)

	// Alive reports whether the underlying connection is still open. It does
	// no I/O.
	Alive() bool

	// Done is closed as soon as the underlying connection has ended, for
	// any reason (remote close, network error, Close).
	Done() <-chan struct{}

	// Err returns why the connection ended, or nil while it is alive.
	Err() error

	// Client returns the underlying *ssh.Client for libraries that need it
	// (for example github.com/pkg/sftp). Closing it closes the connection.
	Client() *ssh.Client

	// RemoteAddr is the address of the server at the end of the connection
	// (the last hop when the connection goes through jump hosts).
	RemoteAddr() net.Addr

	// Close closes the connection and every session and tunnel on it. It is
	// idempotent.
	Close() error
}

// EndNotifier is an optional interface of an SSHClient: NotifyEnd
// registers f to run once when the connection ends, before Done is closed,
// so that whoever sees Done closed also sees what f did; if the connection
// has already ended, f runs before NotifyEnd returns. f must not block.
//
// The pool uses it to mark a connection dead in the entry word every Get
// reads anyway, instead of polling Done on each Get (one more cache miss
// per Get when many keys are in use). Without it the pool checks Done.
// sshconn.Client implements it.
type EndNotifier interface {
	NotifyEnd(f func())
}

// ConnectionFactory dials SSH connections for the pool. Dial resolves key
// (an ssh_config alias, "[user@]host[:port]", or a registered target) into
// dial parameters and returns an authenticated client.
//
// Dial must honour ctx for the whole dial: TCP connect, handshake and
// authentication. It returns errors that Classify can sort: permanent
// failures (authentication, host key) must never be retried by the caller.
type ConnectionFactory interface {
	Dial(ctx context.Context, key string) (SSHClient, error)
}

// ConnectionFactoryFunc adapts a function to ConnectionFactory.
type ConnectionFactoryFunc func(ctx context.Context, key string) (SSHClient, error)

// Dial calls f(ctx, key).
func (f ConnectionFactoryFunc) Dial(ctx context.Context, key string) (SSHClient, error) {
	return f(ctx, key)
}

// Command describes one remote command for SSHClient.Exec.
type Command struct {
	// Cmd is the command line, interpreted by the remote user's shell.
	Cmd string
	// Stdin, when non-nil, is copied to the command's standard input.
	Stdin io.Reader
	// Stdout and Stderr, when non-nil, receive the command's output as it
	// arrives (streaming); the Result's Stdout/Stderr are then empty. When
	// nil, output is captured into the Result.
	Stdout, Stderr io.Writer
	// Env is sent with "env" requests before the command starts. Servers
	// usually accept only names listed in their AcceptEnv; a refused
	// variable is ignored.
	Env map[string]string
	// Signal is sent to the remote process when ctx ends before the command
	// does. Zero means ssh.SIGTERM.
	Signal ssh.Signal
	// KillGrace is how long to wait after Signal before closing the
	// session. Zero means 2 seconds.
	KillGrace time.Duration
	// MaxOutput bounds each captured stream (Result.Stdout, Result.Stderr)
	// in bytes, so that a command that writes without end cannot exhaust
	// memory. When a command writes more, the first MaxOutput bytes are
	// kept, the command is sent Signal, its session (only the session) is
	// closed, and Exec returns an error wrapping *OutputLimitError. Zero
	// means the client's default (sshconn: 16 MiB, see
	// sshconn.WithMaxOutput); negative means no limit. Streamed output
	// (Stdout, Stderr set) is not bounded.
	MaxOutput int64
}

// Result is what a finished remote command produced.
type Result struct {
	// Stdout and Stderr hold captured output when Command.Stdout/Stderr
	// were nil.
	Stdout, Stderr []byte
	// ExitStatus is the remote exit status; -1 when the command was killed
	// by a signal or no status was reported.
	ExitStatus int
	// Signal is the name of the signal that killed the command ("TERM"),
	// or "".
	Signal string
	// Duration is the wall time from session open to exit.
	Duration time.Duration
}
