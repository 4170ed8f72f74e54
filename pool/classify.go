package pool

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

// ErrorKind sorts SSH failures by what a caller should do about them. It is
// decided from error types, never from message text.
type ErrorKind int

// The kinds Classify reports.
const (
	// KindUnknown is an error Classify cannot place. Treat it as permanent.
	KindUnknown ErrorKind = iota
	// KindCanceled means the caller's context was canceled.
	KindCanceled
	// KindTimeout means a deadline passed (context deadline, DialTimeout,
	// probe timeout, net.Error timeouts).
	KindTimeout
	// KindRefused means the server refused or reset the TCP connection, or
	// could not be reached. Retryable with backoff.
	KindRefused
	// KindConnectionLost means an established connection ended (EOF, reset,
	// closed). The connection is dead; a new one may succeed.
	KindConnectionLost
	// KindSessionLimit means the server refused a channel as
	// administratively prohibited, as OpenSSH does past MaxSessions. The
	// connection is healthy; retry after a short backoff.
	KindSessionLimit
	// KindChannelRejected means the server refused a channel for another
	// reason (connect failed for a tunnel, unknown type, resource shortage).
	KindChannelRejected
	// KindAuth means authentication failed. Permanent: never retry, the
	// server penalises repeated failures.
	KindAuth
	// KindHostKeyUnknown means the server's host key is not in known_hosts.
	// Permanent until an operator adds it.
	KindHostKeyUnknown
	// KindHostKeyChanged means the server presented a key different from the
	// one recorded: possible man-in-the-middle. Permanent.
	KindHostKeyChanged
	// KindHostKeyRevoked means the host key is marked @revoked. Permanent.
	KindHostKeyRevoked
	// KindExit means the remote command ran and exited non-zero or was killed
	// by a signal. The connection is healthy.
	KindExit
	// KindConfig means the target could not be resolved or its settings are
	// invalid (bad key, missing passphrase, unreadable identity file).
	// Permanent until the configuration changes.
	KindConfig
	// KindPoolClosed means the pool (or client) was closed.
	KindPoolClosed
	// KindDNSNotFound means the host name does not exist (NXDOMAIN).
	// Permanent until the configuration changes: not retried.
	KindDNSNotFound
	// KindDNSTemporary means name resolution failed for now (server
	// failure, timeout). Retryable with backoff.
	KindDNSTemporary
)

var kindNames = [...]string{
	KindUnknown:         "unknown",
	KindCanceled:        "canceled",
	KindTimeout:         "timeout",
	KindRefused:         "refused",
	KindConnectionLost:  "connection-lost",
	KindSessionLimit:    "session-limit",
	KindChannelRejected: "channel-rejected",
	KindAuth:            "auth",
	KindHostKeyUnknown:  "host-key-unknown",
	KindHostKeyChanged:  "host-key-changed",
	KindHostKeyRevoked:  "host-key-revoked",
	KindExit:            "exit",
	KindConfig:          "config",
	KindPoolClosed:      "pool-closed",
	KindDNSNotFound:     "dns-not-found",
	KindDNSTemporary:    "dns-temporary",
}

// String returns a short lower-case name such as "session-limit".
func (k ErrorKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Retryable reports whether an operation that failed with this kind may be
// tried again (on the same or a new connection) after a backoff.
func (k ErrorKind) Retryable() bool {
	switch k {
	case KindTimeout, KindRefused, KindConnectionLost, KindSessionLimit, KindDNSTemporary:
		return true
	}
	return false
}

// Permanent reports whether retrying cannot help until something outside
// the program changes (credentials, known_hosts, configuration).
func (k ErrorKind) Permanent() bool {
	switch k {
	case KindAuth, KindHostKeyUnknown, KindHostKeyChanged, KindHostKeyRevoked, KindConfig, KindDNSNotFound:
		return true
	}
	return false
}

// ConnectionFatal reports whether the error means the connection it
// happened on is dead and must not get new leases.
func (k ErrorKind) ConnectionFatal() bool {
	return k == KindConnectionLost
}

// Kinder is implemented by errors that know their own ErrorKind. sshconn's
// typed errors implement it; Classify asks it first.
type Kinder interface {
	ErrorKind() ErrorKind
}

// NewKindError returns a sentinel error with message msg that Classify
// reports as kind. Packages that implement SSHClient or sit on top of the
// pool declare their sentinels with it, so callers can test them with
// errors.Is and classify them without knowing the package.
func NewKindError(msg string, kind ErrorKind) error {
	return &kindError{msg: msg, kind: kind}
}

// kindError is an error that knows its ErrorKind.
type kindError struct {
	msg  string
	kind ErrorKind
}

// Error returns the message.
func (e *kindError) Error() string { return e.msg }

// ErrorKind returns the kind the error was declared with.
func (e *kindError) ErrorKind() ErrorKind { return e.kind }

// ExitError reports a remote command that ran and did not exit 0. It
// carries the command's Result.
type ExitError struct {
	Result Result
}

// Error describes the exit status or signal.
func (e *ExitError) Error() string {
	if e.Result.Signal != "" {
		return "ssh: command killed by signal " + e.Result.Signal
	}
	return fmt.Sprintf("ssh: command exited with status %d", e.Result.ExitStatus)
}

// ErrorKind returns KindExit.
func (e *ExitError) ErrorKind() ErrorKind { return KindExit }

// Classify returns the kind of err by walking its chain for known types:
// ErrPoolClosed, Kinder, *ExitError, *ssh.ExitError, *ssh.OpenChannelError,
// *knownhosts.KeyError, *knownhosts.RevokedError, *ssh.PassphraseMissingError,
// context errors, *net.DNSError, net.Error, syscall errnos and io.EOF. Classify(nil) is
// KindUnknown.
func Classify(err error) ErrorKind {
	if err == nil {
		return KindUnknown
	}
	if errors.Is(err, ErrPoolClosed) {
		return KindPoolClosed
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

func classifySSH(err error) (ErrorKind, bool) {
	var (
		exitErr  *ssh.ExitError
		chanErr  *ssh.OpenChannelError
		keyErr   *knownhosts.KeyError
		revoked  *knownhosts.RevokedError
		passMiss *ssh.PassphraseMissingError
	)
	switch {
	case errors.As(err, &exitErr):
		return KindExit, true
	case errors.As(err, &chanErr):
		if chanErr.Reason == ssh.Prohibited {
			return KindSessionLimit, true
		}
		return KindChannelRejected, true
	case errors.As(err, &revoked):
		return KindHostKeyRevoked, true
	case errors.As(err, &keyErr):
		if len(keyErr.Want) == 0 {
			return KindHostKeyUnknown, true
		}
		return KindHostKeyChanged, true
	case errors.As(err, &passMiss):
		return KindConfig, true
	}
	return KindUnknown, false
}

func classifyTransport(err error) ErrorKind {
	switch {
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return KindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return KindConnectionLost
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound && !dnsErr.IsTemporary && !dnsErr.IsTimeout {
			return KindDNSNotFound
		}
		return KindDNSTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return KindRefused
	}
	return KindUnknown
}
