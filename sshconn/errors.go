package sshconn

import (
	"fmt"
	"strings"

	"github.com/sshpool/sshpool/failure"
)

// Sentinel errors, testable with errors.Is. Each implements failure.Kinder.
var (
	// ErrNotFound is returned by a Resolver that does not know a key; Chain
	// then asks the next resolver. Kind: failure.Config.
	ErrNotFound error = failure.New("sshconn: no target for key", failure.Config)
	// ErrClosed is returned by operations on a Client after Close. Kind:
	// failure.ConnectionLost.
	ErrClosed error = failure.New("sshconn: client closed", failure.ConnectionLost)
	// ErrConnectionLost wraps the reason an established connection ended.
	// Kind: failure.ConnectionLost.
	ErrConnectionLost error = failure.New("sshconn: connection lost", failure.ConnectionLost)
	// ErrKeepaliveTimeout means a keepalive probe did not answer within its
	// timeout; the client has been closed. Kind: failure.Timeout.
	ErrKeepaliveTimeout error = failure.New("sshconn: keepalive timed out", failure.Timeout)
	// ErrJumpLoop means ProxyJump hops refer back to a host already in the
	// chain, or the chain is deeper than MaxJumpDepth. Kind: failure.Config.
	ErrJumpLoop error = failure.New("sshconn: ProxyJump loop", failure.Config)
	// ErrNoAuthMethods means a target offers no authentication method at
	// all. Kind: failure.Config.
	ErrNoAuthMethods error = failure.New("sshconn: no authentication methods configured", failure.Config)
	// ErrPasswordEnv means the variable Auth.PasswordEnv names is unset or
	// empty when the server asks for a password; the error names the
	// variable. A dial fails with it inside an *AuthError (failure.Auth: not
	// retried). Kind: failure.Config.
	ErrPasswordEnv error = failure.New("sshconn: password variable", failure.Config)
)

// DialError reports a dial that failed after Attempt attempts. Its kind is
// the kind of the last attempt's error.
type DialError struct {
	// Key is the key passed to Factory.Dial.
	Key string
	// Addr is the "host:port" of the final target ("" when the key did not
	// resolve).
	Addr string
	// Attempt is the number of the last attempt, starting at 1.
	Attempt int
	// Err is the last attempt's error.
	Err error
}

// Error describes the key, address, attempt and cause.
func (e *DialError) Error() string {
	return fmt.Sprintf("sshconn: dial %s (%s) attempt %d: %v", e.Key, e.Addr, e.Attempt, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *DialError) Unwrap() error { return e.Err }

// ErrorKind classifies the last attempt's error with failure.Classify.
func (e *DialError) ErrorKind() failure.Kind { return failure.Classify(e.Err) }

// AuthError reports that the server rejected every authentication method
// offered. It never contains secrets. Kind: failure.Auth (permanent).
type AuthError struct {
	// User and Addr name the account and server ("host:port").
	User, Addr string
	// Methods lists the RFC 4252 methods tried, in order ("none",
	// "publickey", "keyboard-interactive", "password").
	Methods []string
	// Err is x/crypto's error.
	Err error
}

// Error names user@addr and the methods tried.
func (e *AuthError) Error() string {
	return fmt.Sprintf("sshconn: authentication as %s@%s rejected (methods tried: %s): %v",
		e.User, e.Addr, strings.Join(e.Methods, ", "), e.Err)
}

// Unwrap returns x/crypto's error.
func (e *AuthError) Unwrap() error { return e.Err }

// ErrorKind returns failure.Auth.
func (e *AuthError) ErrorKind() failure.Kind { return failure.Auth }

// IdentityError reports an identity file that could not be used: unreadable,
// unparsable, or encrypted with no passphrase available. Kind: failure.Config.
type IdentityError struct {
	// File is the identity file's path.
	File string
	// Err is the cause (for a missing passphrase, *ssh.PassphraseMissingError).
	Err error
}

// Error names the file.
func (e *IdentityError) Error() string {
	return fmt.Sprintf("sshconn: identity file %s: %v", e.File, e.Err)
}

// Unwrap returns the cause.
func (e *IdentityError) Unwrap() error { return e.Err }

// ErrorKind returns failure.Config.
func (e *IdentityError) ErrorKind() failure.Kind { return failure.Config }

// ConfigError reports a key that could not be resolved into a usable
// Target (bad ssh_config, bad key syntax, ProxyJump loop). Kind: failure.Config.
type ConfigError struct {
	// Key is the key being resolved.
	Key string
	// Err is the cause.
	Err error
}

// Error names the key.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("sshconn: resolve %q: %v", e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// ErrorKind returns failure.Config.
func (e *ConfigError) ErrorKind() failure.Kind { return failure.Config }

// ProxyCommandError reports a ProxyCommand that could not be started or
// that exited before the SSH handshake completed. It never contains the
// command line, which may hold secrets. Kind: failure.Config when the shell
// could not run the command (exit status 126 or 127, or not started),
// else failure.Refused (retryable: the command could not reach the host).
type ProxyCommandError struct {
	// Addr is the "host:port" the command was to connect to.
	Addr string
	// ExitStatus is the command's exit status, -1 when it was not started
	// or was killed by a signal.
	ExitStatus int
	// Stderr is a quoted excerpt of the end of what the command wrote to
	// its stderr ("" when nothing).
	Stderr string
	// NotStarted reports that the shell could not be started.
	NotStarted bool
	// Err is the handshake's or the start's error.
	Err error
}

// Error names the address, the status and the command's last words.
func (e *ProxyCommandError) Error() string {
	msg := fmt.Sprintf("sshconn: ProxyCommand for %s", e.Addr)
	if e.ExitStatus >= 0 {
		msg += fmt.Sprintf(" exited with status %d", e.ExitStatus)
	} else {
		msg += " failed"
	}
	if e.Stderr != "" {
		msg += ", stderr " + e.Stderr
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ProxyCommandError) Unwrap() error { return e.Err }

// ErrorKind returns failure.Config for a command the shell could not run,
// else failure.Refused.
func (e *ProxyCommandError) ErrorKind() failure.Kind {
	if e.NotStarted || e.ExitStatus == 126 || e.ExitStatus == 127 {
		return failure.Config
	}
	return failure.Refused
}
