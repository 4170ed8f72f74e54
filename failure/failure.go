// Package failure sorts the errors of SSH connections and commands into
// Kinds by what a caller should do about them: retry after a backoff
// (Timeout, Refused, ConnectionLost, SessionLimit, DNSTemporary), give up
// until something outside the program changes (Auth, the host-key kinds,
// Config, DNSNotFound), or treat as the command's own result (Exit).
//
// Classify decides from error types, never from message text. Package pool
// acts on the kinds (what it retries, when a connection is dead, when a
// key's circuit opens); package sshconn marks its own errors with them; the
// legacy adapter, metrics and traces report them. An error declares its
// kind by implementing Kinder, or is declared with New.
package failure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Kind sorts SSH failures by what a caller should do about them. It is
// decided from error types, never from message text.
type Kind int

// The kinds Classify reports.
const (
	// Unknown is an error Classify cannot place. Treat it as permanent.
	Unknown Kind = iota
	// Canceled means the caller's context was canceled.
	Canceled
	// Timeout means a deadline passed (context deadline, DialTimeout,
	// probe timeout, net.Error timeouts).
	Timeout
	// Refused means the server refused or reset the TCP connection, or
	// could not be reached. Retryable with backoff.
	Refused
	// ConnectionLost means an established connection ended (EOF, reset,
	// closed). The connection is dead; a new one may succeed.
	ConnectionLost
	// SessionLimit means the server refused a channel as
	// administratively prohibited, as OpenSSH does past MaxSessions. The
	// connection is healthy; retry after a short backoff.
	SessionLimit
	// ChannelRejected means the server refused a channel for another
	// reason (connect failed for a tunnel, unknown type, resource shortage).
	ChannelRejected
	// Auth means authentication failed. Permanent: never retry, the
	// server penalises repeated failures.
	Auth
	// HostKeyUnknown means the server's host key is not in known_hosts.
	// Permanent until an operator adds it.
	HostKeyUnknown
	// HostKeyChanged means the server presented a key different from the
	// one recorded: possible man-in-the-middle. Permanent.
	HostKeyChanged
	// HostKeyRevoked means the host key is marked @revoked. Permanent.
	HostKeyRevoked
	// Exit means the remote command ran and exited non-zero or was killed
	// by a signal. The connection is healthy.
	Exit
	// Config means the target could not be resolved or its settings are
	// invalid (bad key, missing passphrase, unreadable identity file).
	// Permanent until the configuration changes.
	Config
	// PoolClosed means the pool (or client) was closed.
	PoolClosed
	// DNSNotFound means the host name does not exist (NXDOMAIN).
	// Permanent until the configuration changes: not retried.
	DNSNotFound
	// DNSTemporary means name resolution failed for now (server
	// failure, timeout). Retryable with backoff.
	DNSTemporary
)

var kindNames = [...]string{
	Unknown:         "unknown",
	Canceled:        "canceled",
	Timeout:         "timeout",
	Refused:         "refused",
	ConnectionLost:  "connection-lost",
	SessionLimit:    "session-limit",
	ChannelRejected: "channel-rejected",
	Auth:            "auth",
	HostKeyUnknown:  "host-key-unknown",
	HostKeyChanged:  "host-key-changed",
	HostKeyRevoked:  "host-key-revoked",
	Exit:            "exit",
	Config:          "config",
	PoolClosed:      "pool-closed",
	DNSNotFound:     "dns-not-found",
	DNSTemporary:    "dns-temporary",
}

// String returns a short lower-case name such as "session-limit".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Retryable reports whether an operation that failed with this kind may be
// tried again (on the same or a new connection) after a backoff.
func (k Kind) Retryable() bool {
	switch k {
	case Timeout, Refused, ConnectionLost, SessionLimit, DNSTemporary:
		return true
	}
	return false
}

// Permanent reports whether retrying cannot help until something outside
// the program changes (credentials, known_hosts, configuration).
func (k Kind) Permanent() bool {
	switch k {
	case Auth, HostKeyUnknown, HostKeyChanged, HostKeyRevoked, Config, DNSNotFound:
		return true
	}
	return false
}

// ConnectionFatal reports whether the error means the connection it
// happened on is dead and must not get new leases.
func (k Kind) ConnectionFatal() bool {
	return k == ConnectionLost
}

// Kinder is implemented by errors that know their own Kind. sshconn's
// typed errors implement it; Classify asks it first.
type Kinder interface {
	ErrorKind() Kind
}

// New returns a sentinel error with message msg that Classify
// reports as kind. Packages that implement SSHClient or sit on top of the
// pool declare their sentinels with it, so callers can test them with
// errors.Is and classify them without knowing the package.
func New(msg string, kind Kind) error {
	return &kindError{msg: msg, kind: kind}
}

// kindError is an error that knows its Kind.
type kindError struct {
	msg  string
	kind Kind
}

// Error returns the message.
func (e *kindError) Error() string { return e.msg }

// ErrorKind returns the kind the error was declared with.
func (e *kindError) ErrorKind() Kind { return e.kind }

// Classify returns the kind of err by walking its chain for known types:
// Kinder (which the pool's errors, ErrPoolClosed and *ExitError among
// them, implement), *ssh.ExitError, *ssh.OpenChannelError,
// *knownhosts.KeyError, *knownhosts.RevokedError, *ssh.PassphraseMissingError,
// context errors, *net.DNSError, net.Error, syscall errnos and io.EOF. Classify(nil) is
// Unknown.
func Classify(err error) Kind {
	if err == nil {
		return Unknown
	}
	var k Kinder
	if errors.As(err, &k) {
		return k.ErrorKind()
	}
	if kind, ok := classifySSH(err); ok {
		return kind
	}
	return classifyTransport(err)
}

func classifySSH(err error) (Kind, bool) {
	var (
		exitErr  *ssh.ExitError
		chanErr  *ssh.OpenChannelError
		keyErr   *knownhosts.KeyError
		revoked  *knownhosts.RevokedError
		passMiss *ssh.PassphraseMissingError
	)
	switch {
	case errors.As(err, &exitErr):
		return Exit, true
	case errors.As(err, &chanErr):
		if chanErr.Reason == ssh.Prohibited {
			return SessionLimit, true
		}
		return ChannelRejected, true
	case errors.As(err, &revoked):
		return HostKeyRevoked, true
	case errors.As(err, &keyErr):
		if len(keyErr.Want) == 0 {
			return HostKeyUnknown, true
		}
		return HostKeyChanged, true
	case errors.As(err, &passMiss):
		return Config, true
	}
	return Unknown, false
}

func classifyTransport(err error) Kind {
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return ConnectionLost
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound && !dnsErr.IsTemporary && !dnsErr.IsTimeout {
			return DNSNotFound
		}
		return DNSTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return Refused
	}
	return Unknown
}
