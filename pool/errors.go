package pool

import (
	"errors"
	"fmt"
	"time"

	"github.com/sshpool/sshpool/failure"
)

// Sentinel errors. Compare with errors.Is; the pool wraps them with context.
var (
	// ErrPoolClosed is returned by Get (and Run, Warmup, UpdateConfig) after
	// Close, and delivered to callers that were waiting when Close began.
	ErrPoolClosed = failure.New("pool: closed", failure.PoolClosed)
	// ErrPoolExhausted means every limit was reached (the key's connections
	// were all full and no connection could be dialled or evicted) until the
	// caller's context or WaitTimeout ended. It is wrapped by *WaitError.
	ErrPoolExhausted = errors.New("pool: exhausted")
	// ErrCircuitOpen means dials to the key are suspended after repeated
	// (or permanent) failures: Get, Run and Warmup fail fast with a
	// *CircuitError wrapping it and the last dial error, until the cooldown
	// ends and a trial dial succeeds. See AdvancedPoolConfig.CircuitThreshold.
	ErrCircuitOpen = errors.New("pool: circuit open")
	// ErrLeaseReleased is returned by a lease handle's methods after the
	// lease was released, and by a second Release of the same handle.
	ErrLeaseReleased = errors.New("pool: lease already released")
	// ErrForeignClient is returned by Release for a client that this pool
	// did not hand out (nil, a raw connection, or a lease from another
	// pool).
	ErrForeignClient = errors.New("pool: client was not leased from this pool")
	// ErrKeyMismatch is returned by Release when key is not the key the
	// lease was taken for. The lease is released anyway: the handle, not the
	// key, identifies it.
	ErrKeyMismatch = errors.New("pool: release key does not match lease key")
	// ErrNotStarted marks an Exec or Run failure that happened before the
	// command reached the server: the session channel could not be opened,
	// or the connection was already known dead. Running the command again
	// cannot run it twice. Pool.Run and Pool.Exec retry such a failure on
	// another connection when it also lost the connection (LostBeforeStart);
	// callers holding a lease can test LostBeforeStart to do the same.
	// SSHClient implementations mark such failures with MarkNotStarted.
	ErrNotStarted = errors.New("pool: command not started")
)

// MarkNotStarted returns err marked with ErrNotStarted, or nil for nil.
// The message and everything errors.Is, errors.As and Classify see in err
// are unchanged. Mark only failures after which the server cannot have
// started the command, as database/sql's drivers return ErrBadConn only
// when nothing was sent.
func MarkNotStarted(err error) error {
	if err == nil {
		return nil
	}
	return &notStartedError{err: err}
}

// LostBeforeStart reports whether err lost its connection before the
// command reached the server (connection-lost and ErrNotStarted): the
// command did not run and the connection is dead, so running it again on
// another connection is safe. Pool.Run retries exactly these failures.
func LostBeforeStart(err error) bool {
	return errors.Is(err, ErrNotStarted) && failure.Classify(err).ConnectionFatal()
}

type notStartedError struct{ err error }

func (e *notStartedError) Error() string        { return e.err.Error() }
func (e *notStartedError) Unwrap() error        { return e.err }
func (e *notStartedError) Is(target error) bool { return target == ErrNotStarted }

// WaitError reports a Get that waited for a connection and gave up because
// its context (or the pool's WaitTimeout) ended. It wraps the context's
// error, and ErrPoolExhausted when every limit was reached at the time, so
// errors.Is(err, context.DeadlineExceeded) and errors.Is(err,
// ErrPoolExhausted) both work.
type WaitError struct {
	// Key is the key the caller asked for.
	Key string
	// Waited is how long the caller waited.
	Waited time.Duration
	// Exhausted is true when the key had all its connections full and no
	// new connection could be opened (per-key or pool-wide limit); false
	// when the caller was waiting for a dial in flight.
	Exhausted bool
	// Err is the context's error (context.Canceled or DeadlineExceeded).
	Err error
}

// Error describes the wait.
func (e *WaitError) Error() string {
	why := "waiting for dial"
	if e.Exhausted {
		why = ErrPoolExhausted.Error()
	}
	return fmt.Sprintf("pool: get %q: gave up after %v (%s): %v", e.Key, e.Waited, why, e.Err)
}

// Unwrap returns Err and, when Exhausted, ErrPoolExhausted.
func (e *WaitError) Unwrap() []error {
	if e.Exhausted {
		return []error{ErrPoolExhausted, e.Err}
	}
	return []error{e.Err}
}

// DialError reports a failed dial for Key. Err is the factory's error,
// unchanged: Classify, errors.Is and errors.As see through DialError.
// Permanent errors (authentication, host key, configuration) are never
// retried by the pool.
type DialError struct {
	// Key is the key that was dialled.
	Key string
	// Kind is failure.Classify(Err).
	Kind failure.Kind
	// Err is the factory's error.
	Err error
}

// Error names the key and the cause.
func (e *DialError) Error() string {
	return fmt.Sprintf("pool: dial %q (%s): %v", e.Key, e.Kind, e.Err)
}

// Unwrap returns Err.
func (e *DialError) Unwrap() error { return e.Err }

// FieldError is one PoolConfig field outside its allowed range, as
// ValidatePoolConfig reports it (one per problem, joined with errors.Join;
// errors.As finds the first).
type FieldError struct {
	// Field is the field's Go name: "MaxConnections",
	// "Advanced.CircuitCooldown", "WarmupKeys[2]".
	Field string
	// Name is the field as the error names it: Field, or what the namer
	// of ValidatePoolConfigNamed made of it.
	Name string
	// Value is the field's value after SetDefaults.
	Value any
	// Want is the allowed range; fields it refers to are named like Name.
	Want string
	// Hint, when set, is the likely mistake behind a value of this kind.
	Hint string
}

// Error is "pool: config: Name = Value, want Want (Hint)"; an empty string
// value reads "Name is empty, want Want".
func (e *FieldError) Error() string {
	var s string
	if v, ok := e.Value.(string); ok && v == "" {
		s = fmt.Sprintf("pool: config: %s is empty, want %s", e.Name, e.Want)
	} else if ok {
		s = fmt.Sprintf("pool: config: %s = %q, want %s", e.Name, v, e.Want)
	} else {
		s = fmt.Sprintf("pool: config: %s = %v, want %s", e.Name, e.Value, e.Want)
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// OutputLimitError reports a command whose captured output passed its
// limit (Command.MaxOutput): the command was stopped and the Result holds
// the output up to the limit. The connection is unaffected; Classify
// reports failure.Exit (the command ran and was killed).
type OutputLimitError struct {
	// Stream is "stdout" or "stderr".
	Stream string
	// Limit is the limit that was passed, in bytes.
	Limit int64
}

// Error names the stream and the limit.
func (e *OutputLimitError) Error() string {
	return fmt.Sprintf("pool: command %s passed the output limit of %d bytes (Command.MaxOutput)", e.Stream, e.Limit)
}

// ErrorKind returns failure.Exit.
func (e *OutputLimitError) ErrorKind() failure.Kind { return failure.Exit }

// errNilConnection is the dial error when a ConnectionFactory returns
// neither a client nor an error: a broken factory, not a failure to retry.
var errNilConnection = failure.New("pool: factory returned a nil client", failure.Config)
