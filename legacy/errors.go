package legacy

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/pool"
)

// Sentinel errors. Each reports a failure.Kind through failure.Classify.
var (
	// ErrInvalidServer is wrapped by Server.Validate failures (failure.Config).
	ErrInvalidServer error = failure.New("legacy: invalid server", failure.Config)
	// ErrPoolStopped is returned, wrapped in a *CommandError, by every call
	// on a ConnectionPool or Adapter after Stop began, and on the singleton
	// after the application that installed the router shut down
	// (failure.PoolClosed). Commands already running when Stop began finish.
	ErrPoolStopped error = failure.New("legacy: shutting down: pool stopped", failure.PoolClosed)
	// ErrConnectionClosed is returned by a *PooledConnection used after
	// Close, or after its pool removed it (failure.PoolClosed). The command did
	// not run, so it is safe to get a new connection and retry.
	ErrConnectionClosed error = failure.New("legacy: connection closed", failure.PoolClosed)
	// ErrEmptyCommand is returned for an empty command line (failure.Config),
	// as the old pool did ("command cannot be empty").
	ErrEmptyCommand error = failure.New("legacy: command cannot be empty", failure.Config)
	// ErrNilOutput is returned by ExecuteCommandStream for a nil channel
	// (failure.Config), as the old pool did ("output channel cannot be nil").
	ErrNilOutput error = failure.New("legacy: output channel cannot be nil", failure.Config)
)

// Operations named in CommandError.Op.
const (
	OpConnect = "connect"
	OpExec    = "exec"
	OpStream  = "stream"
	OpHealth  = "health"
	// OpClient is a function run on the client through SSHManager.WithClient.
	OpClient = "client"
)

// The old pool's message texts, kept as the start of error messages
// because old callers print them and match them as strings.
const (
	// prefixGetConnection starts ConnectionManager errors of a failed
	// GetOrCreateConnection.
	prefixGetConnection = "failed to get connection: "
	// prefixNotHealthy starts errors of a command that did not start
	// because the connection could not be used.
	prefixNotHealthy = "connection is not healthy: "
	// prefixCommandFailed starts errors of a command that ran and failed.
	prefixCommandFailed = "command failed: "
	// prefixHealthFailed starts TestHealth failures.
	prefixHealthFailed = "health check failed: "
)

// maxOutputExcerpt bounds the output quoted in a command error's message
// (the whole output stays in CommandError.Output).
const maxOutputExcerpt = 200

// CommandError is the error every *PooledConnection returns for a failed
// connect or command, whichever pool served it (legacy pool, adapter or
// router), so that callers see the same shape and text on each. Err is the
// cause: a *pool.ExitError for a command that exited non-zero, or a
// transport, dial or pool error.
//
// The message starts with the old pool's text, which old callers match:
// "connection is not healthy: " when the command did not start (the
// connection was closed or could not be re-established; the cause is then
// marked pool.ErrNotStarted), "command failed: " when it ran and failed,
// "health check failed: " for TestHealth. A ConnectionManager adds
// "failed to get connection: " in front of a failed connect. The command
// line is not in the message (it may hold secrets); the output is, cut to
// a short quoted prefix.
type CommandError struct {
	// Op is OpConnect, OpExec, OpStream, OpHealth or OpClient.
	Op string
	// Key is the pool key, "host:port:id:root|app".
	Key string
	// Cmd is the command line; empty for OpConnect.
	Cmd string
	// Output is the combined output captured before the failure (OpExec).
	Output string
	// Err is the cause.
	Err error
}

// Error describes the operation, key and cause, for example
// `command failed: legacy: exec on 10.0.0.1:22:web-1:app: ssh: command exited with status 1 (output: "no such file\n")`.
func (e *CommandError) Error() string {
	var b strings.Builder
	b.WriteString(e.oldPrefix())
	if e.Op == OpConnect {
		fmt.Fprintf(&b, "legacy: connect %s: %v", e.Key, e.Err)
	} else {
		fmt.Fprintf(&b, "legacy: %s on %s: %v", e.Op, e.Key, e.Err)
	}
	if e.Output != "" {
		b.WriteString(" (output: " + inputfile.Excerpt(e.Output, maxOutputExcerpt) + ")")
	}
	return b.String()
}

// oldPrefix returns the old pool's text that starts the message.
func (e *CommandError) oldPrefix() string {
	switch {
	case e.Op == OpConnect:
		return ""
	case e.Op == OpHealth:
		return prefixHealthFailed
	case errors.Is(e.Err, pool.ErrNotStarted):
		return prefixNotHealthy
	}
	return prefixCommandFailed
}

// Unwrap returns the cause.
func (e *CommandError) Unwrap() error { return e.Err }

// ErrorKind classifies the cause; it makes CommandError a failure.Kinder.
func (e *CommandError) ErrorKind() failure.Kind { return classify(e.Err) }

// ExitStatus returns the remote exit status when the command ran and exited
// non-zero, and -1 otherwise.
func (e *CommandError) ExitStatus() int {
	var exit *pool.ExitError
	if errors.As(e.Err, &exit) {
		return exit.Result.ExitStatus
	}
	return -1
}

// classify is failure.Classify, plus pool.ErrPoolClosed as failure.PoolClosed.
func classify(err error) failure.Kind {
	if errors.Is(err, pool.ErrPoolClosed) {
		return failure.PoolClosed
	}
	return failure.Classify(err)
}

// notStarted marks err as a failure before the command reached the server.
func notStarted(err error) error {
	if errors.Is(err, pool.ErrNotStarted) {
		return err
	}
	return pool.MarkNotStarted(err)
}

// BackoffError is the connect error of a key whose last dial failed less
// than the backoff ago: the legacy pool does not redial it yet and returns
// the last dial's error, wrapped. The old pool redialled on every call
// during an outage (hundreds of handshakes a second against a changed host
// key); the backoff starts at 50 ms, doubles per failure up to 1 s
// (WithDialBackoff), and is skipped when the server's settings changed.
// Its kind is the last error's kind.
type BackoffError struct {
	// Key is the pool key.
	Key string
	// Failures is the number of consecutive failed dials.
	Failures int
	// Retry is how long until the next dial is allowed.
	Retry time.Duration
	// Err is the last dial's error.
	Err error
}

// Error names the key, the wait and the last error.
func (e *BackoffError) Error() string {
	return fmt.Sprintf("legacy: %s: not redialled for %v after %d failed dials: %v",
		e.Key, e.Retry.Round(time.Millisecond), e.Failures, e.Err)
}

// Unwrap returns the last dial's error.
func (e *BackoffError) Unwrap() error { return e.Err }

// ErrorKind classifies the last dial's error.
func (e *BackoffError) ErrorKind() failure.Kind { return classify(e.Err) }

// DrainError reports a Stop whose drain deadline passed with commands still
// running: they were cut (their connections closed). Cut counts them and
// Keys breaks them down by pool key. It wraps the context's error.
type DrainError struct {
	// Pool names what was drained: "legacy" or "adapter".
	Pool string
	// Cut is the number of commands still running at the deadline.
	Cut int
	// Keys maps each key with commands cut to their number.
	Keys map[string]int
	// Err is the drain context's error (context.DeadlineExceeded).
	Err error
}

// maxDrainKeys bounds the keys a DrainError's message lists.
const maxDrainKeys = 5

// Error reports how many commands were cut and on which keys.
func (e *DrainError) Error() string {
	keys := make([]string, 0, len(e.Keys))
	for k := range e.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "legacy: %s drain: %d running commands cut", e.Pool, e.Cut)
	for i, k := range keys {
		if i == maxDrainKeys {
			fmt.Fprintf(&b, ", and %d more keys", len(keys)-i)
			break
		}
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		fmt.Fprintf(&b, "%s%s: %d", sep, k, e.Keys[k])
	}
	if len(keys) > 0 {
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the context's error.
func (e *DrainError) Unwrap() error { return e.Err }

// ErrorKind returns failure.PoolClosed.
func (e *DrainError) ErrorKind() failure.Kind { return failure.PoolClosed }
