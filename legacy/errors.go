package legacy

import (
	"errors"
	"fmt"

	"github.com/sshpool/sshpool/pool"
)

// Sentinel errors. Each reports a pool.ErrorKind through pool.Classify.
var (
	// ErrInvalidServer is wrapped by Server.Validate failures (KindConfig).
	ErrInvalidServer error = pool.NewKindError("legacy: invalid server", pool.KindConfig)
	// ErrPoolStopped is returned by a ConnectionPool after Stop
	// (KindPoolClosed).
	ErrPoolStopped error = pool.NewKindError("legacy: pool stopped", pool.KindPoolClosed)
	// ErrConnectionClosed is returned by a Connection used after Close, or
	// closed by a cleanup before the command started (KindPoolClosed). The
	// command did not run, so it is safe to get a new connection and retry.
	ErrConnectionClosed error = pool.NewKindError("legacy: connection closed", pool.KindPoolClosed)
	// ErrNoFactory is returned when the singleton pool is used before
	// SetDefaultFactory (KindConfig).
	ErrNoFactory error = pool.NewKindError("legacy: no default connection factory (call SetDefaultFactory)", pool.KindConfig)
)

// Operations named in CommandError.Op.
const (
	OpConnect = "connect"
	OpExec    = "exec"
	OpStream  = "stream"
	OpHealth  = "health"
)

// CommandError is the error every Connection and ConnectionProvider in this
// package returns for a failed connect or command, whichever pool served
// it, so that callers see the same shape on the legacy pool, the adapter
// and the router. Err is the cause: a *pool.ExitError for a command that
// exited non-zero, or a transport, dial or pool error.
type CommandError struct {
	// Op is OpConnect, OpExec, OpStream or OpHealth.
	Op string
	// Key is the pool key, "host:port:id:root|app".
	Key string
	// Cmd is the command line; empty for OpConnect.
	Cmd string
	// Output is the combined output captured before the failure (OpExec),
	// or the standard error (OpStream).
	Output string
	// Err is the cause.
	Err error
}

// Error describes the operation, key and cause, for example
// `legacy: exec "false" on 10.0.0.1:22:web-1:app: ssh: command exited with status 1`.
func (e *CommandError) Error() string {
	if e.Cmd == "" {
		return fmt.Sprintf("legacy: %s %s: %v", e.Op, e.Key, e.Err)
	}
	return fmt.Sprintf("legacy: %s %q on %s: %v", e.Op, e.Cmd, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *CommandError) Unwrap() error { return e.Err }

// ErrorKind classifies the cause with classify; it makes CommandError a
// pool.Kinder.
func (e *CommandError) ErrorKind() pool.ErrorKind { return classify(e.Err) }

// classify is pool.Classify, plus pool.ErrPoolClosed as KindPoolClosed
// (package pool's sentinel does not report a kind itself).
func classify(err error) pool.ErrorKind {
	if errors.Is(err, pool.ErrPoolClosed) {
		return pool.KindPoolClosed
	}
	return pool.Classify(err)
}

// ExitStatus returns the remote exit status when the command ran and exited
// non-zero, and -1 otherwise.
func (e *CommandError) ExitStatus() int {
	var exit *pool.ExitError
	if errors.As(e.Err, &exit) {
		return exit.Result.ExitStatus
	}
	return -1
}
