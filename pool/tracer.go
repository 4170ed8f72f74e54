package pool

import (
	"context"
	"time"

	"github.com/sshpool/sshpool/failure"
)

// Tracer holds the hooks a pool calls as it works, in the style of
// net/http/httptrace.ClientTrace: set the hooks you need and leave the rest
// nil; a nil hook is skipped. A nil *Tracer, or one with no hook set,
// traces nothing and costs nothing on the hot path: no hook call, no clock
// read, no allocation.
//
// Operations with a duration (Get, dial, health check, command) have a
// Start hook and an End hook sharing one data value: Start receives the
// fields known when the operation begins, End the same value with its
// outcome filled in. A Start hook returns the context used for the rest of
// the operation and passed to its End hook (a span's context, say); a nil
// Start hook leaves the context unchanged. Either hook of a pair may be
// set without the other. The rest are plain events.
//
// Hooks run synchronously on the goroutine doing the work, named in each
// field's doc, and never while the pool holds a lock. They must be fast
// and must not block, must not call back into the pool (Get, Release,
// Close, ...), and must not retain a data value's Err beyond the call if
// it is large. A pool's hooks are shared by every goroutine using it, so
// they must be safe for concurrent use.
//
// NewPool and New copy the Tracer: setting a hook afterwards does not
// change what the pool calls. Combine tracers with MultiTracer;
// NewSlogTracer logs.
type Tracer struct {
	// GetStart fires when Get begins, on the caller's goroutine.
	GetStart func(ctx context.Context, d GetData) context.Context
	// GetEnd fires when Get returns, on the caller's goroutine, with the
	// same data: the leased connection's ConnID, Hit, Waited and
	// Duration, and Err, the error Get returned (nil on success).
	GetEnd func(ctx context.Context, d GetData)
	// DialStart fires before the factory's Dial, on the pool's dial
	// goroutine (or Warmup's). ctx carries the requesting caller's
	// values; the context it returns is the one Dial gets.
	DialStart func(ctx context.Context, d DialData) context.Context
	// DialEnd fires after Dial returns, on the same goroutine, with the
	// same data: the new ConnID and Duration, or Err (a *DialError) and
	// its Kind.
	DialEnd func(ctx context.Context, d DialData)
	// HealthCheckStart fires before one connection is probed by
	// HealthCheck or the health loop, on the probing goroutine; the
	// context it returns is the one the probe runs with.
	HealthCheckStart func(ctx context.Context, d HealthCheckData) context.Context
	// HealthCheckEnd fires after the probe, on the same goroutine, with
	// the same data: the probe's Duration and Err.
	HealthCheckEnd func(ctx context.Context, d HealthCheckData)
	// CommandStart fires before a command's session opens, for every
	// command run on a lease (by Pool.Run and Pool.Exec, or by a lease's
	// Run and Exec, as the legacy adapter runs them), on the caller's
	// goroutine. The context it returns is the one the command runs with
	// (its values reach the SSH client).
	CommandStart func(ctx context.Context, d CommandData) context.Context
	// CommandEnd fires when the command has ended (exited, failed, or was
	// abandoned with its context), on the same goroutine, with the same
	// data: Duration, ExitStatus and Err. Session-limit retries on the
	// same lease are inside one Start/End pair.
	CommandEnd func(ctx context.Context, d CommandData)
	// Release fires when a lease is returned (Release, the handle's
	// Close, or Run), on the releasing goroutine. Release is
	// instantaneous, so it is one event carrying how long the lease was
	// held.
	Release func(d ReleaseData)
	// StateChange fires when a connection is retired or marked
	// unhealthy, on the goroutine that noticed. Idle⇄active transitions
	// happen on every lease and are not traced.
	StateChange func(d StateChangeData)
	// ConnClose fires after a pooled connection's client was closed, on
	// the goroutine that closed it: once per connection, whatever the
	// reason. A connection evicted to make room for another key is a
	// close with ReasonEvicted whose Strategy names the eviction
	// strategy; it fires on the goroutine whose Get needed the room,
	// after the pool lock is released.
	ConnClose func(d ConnCloseData)
	// Misuse fires on a caller error the pool tolerates: double release,
	// foreign or nil client, key mismatch, use of a released handle. It
	// runs on the misusing goroutine.
	Misuse func(d MisuseData)
	// HealthEvent fires for every health event (probe failures,
	// unhealthy and lost connections, replacements, circuit changes,
	// leaks, warm-up backoff), on the goroutine that noticed it, before
	// the event reaches SubscribeHealth's channels.
	HealthEvent func(ev HealthEvent)
}

// empty reports whether t (nil included) sets no hook.
func (t *Tracer) empty() bool {
	return t == nil || t.GetStart == nil && t.GetEnd == nil && t.DialStart == nil && t.DialEnd == nil &&
		t.HealthCheckStart == nil && t.HealthCheckEnd == nil && t.CommandStart == nil && t.CommandEnd == nil &&
		t.Release == nil && t.StateChange == nil && t.ConnClose == nil && t.Misuse == nil && t.HealthEvent == nil
}

// traced returns a copy of t for a pool to keep, or nil when t sets no
// hook: the pool's one check for "tracing off".
func (t *Tracer) traced() *Tracer {
	if t.empty() {
		return nil
	}
	c := *t
	return &c
}

// GetData describes one Get. Tracer.GetStart receives it with the fields
// marked "Start"; Tracer.GetEnd receives the same value with the rest
// filled in.
type GetData struct {
	// Key is the pool key. Start.
	Key string
	// ConnID is the leased connection's id (as in EntryInfo.ID). End
	// only; 0 on error.
	ConnID uint64
	// Hit is true when the lease came at once from an existing
	// connection. End only.
	Hit bool
	// Waited is how long the Get waited, 0 for a hit. End only.
	Waited time.Duration
	// Duration is the whole Get. End only.
	Duration time.Duration
	// Err is the error Get returned, or nil. End only.
	Err error
}

// DialData describes one dial. Tracer.DialStart receives it with the
// fields marked "Start"; Tracer.DialEnd receives the same value with the
// rest filled in.
type DialData struct {
	// Key is the pool key dialled. Start.
	Key string
	// ConnID is the new connection's id (as in EntryInfo.ID). End only;
	// 0 on error.
	ConnID uint64
	// Duration is how long the factory's Dial took. End only.
	Duration time.Duration
	// Err is the *DialError, or nil. End only.
	Err error
	// Kind is failure.Classify(Err), failure.Unknown on success. End only.
	Kind failure.Kind
}

// ReleaseData is passed to Tracer.Release.
type ReleaseData struct {
	Key    string // the pool key
	ConnID uint64 // the connection's id (as in EntryInfo.ID)
	// Held is how long the lease was held.
	Held time.Duration
}

// HealthCheckData describes one probe of a connection.
// Tracer.HealthCheckStart receives it with the fields marked "Start";
// Tracer.HealthCheckEnd receives the same value with the rest filled in.
type HealthCheckData struct {
	// Key is the pool key. Start.
	Key string
	// ConnID is the probed connection's id (as in EntryInfo.ID). Start.
	ConnID uint64
	// Duration is the probe's round trip. End only.
	Duration time.Duration
	// Err is the probe's error, or nil. End only.
	Err error
}

// StateChangeData is passed to Tracer.StateChange.
type StateChangeData struct {
	Key    string      // the pool key
	ConnID uint64      // the connection's id (as in EntryInfo.ID)
	From   EntryState  // the state before
	To     EntryState  // the state after
	Reason CloseReason // why
	// Err is what caused an unhealthy mark, if known.
	Err error // the error, or nil
}

// ConnCloseData is passed to Tracer.ConnClose.
type ConnCloseData struct {
	Key    string      // the pool key
	ConnID uint64      // the connection's id (as in EntryInfo.ID)
	Reason CloseReason // why it was closed
	// Strategy is the eviction strategy's Name when the strategy chose
	// this connection: always when Reason is ReasonEvicted, and for
	// ReasonLimit when UpdateConfig lowered MaxConnections and the pool
	// enforced it pool-wide. Otherwise empty.
	Strategy string
	Age      time.Duration // time since it was dialled
	UseCount int64         // leases ever granted on it
	// Err is the client's Close error.
	Err error // the error, or nil
}

// MisuseData is passed to Tracer.Misuse.
type MisuseData struct {
	// Key is the key passed by the caller, or the lease's key.
	Key string // the pool key
	// Op is the operation misused ("Release", "Run", ...).
	Op string
	// Err is the sentinel returned to the caller.
	Err error // the error, or nil
}

// CommandData describes one command run on a lease. Tracer.CommandStart
// receives it with the fields marked "Start"; Tracer.CommandEnd receives
// the same value with the rest filled in.
type CommandData struct {
	// Key is the pool key. Start.
	Key string
	// ConnID is the leased connection's id (as in EntryInfo.ID). Start.
	ConnID uint64
	// Cmd is the command line as the caller gave it. Start. Its arguments
	// may carry secrets (tokens, passwords on a command line): a tracer
	// should not export it whole unless told to.
	Cmd string
	// Duration is the command's time on the connection, retries
	// included. End only.
	Duration time.Duration
	// ExitStatus is the remote exit status; -1 when the command was
	// killed by a signal or reported none (as Result.ExitStatus), 0 when
	// it never started. End only.
	ExitStatus int
	// Err is the error the command returned (an *ExitError for a non-zero
	// exit), or nil. End only.
	Err error
}

// MultiTracer combines tracers, for example a slog tracer (NewSlogTracer)
// with an OpenTelemetry one: each hook of the result calls that hook of
// every tracer that sets it, in order, and Start hooks chain (each
// receives the context the previous one returned). Nil tracers and
// tracers with no hook set are skipped: with none left MultiTracer
// returns nil, with one left that tracer itself.
func MultiTracer(tracers ...*Tracer) *Tracer {
	var ts []*Tracer
	for _, t := range tracers {
		if !t.empty() {
			ts = append(ts, t)
		}
	}
	switch len(ts) {
	case 0:
		return nil
	case 1:
		return ts[0]
	}
	return &Tracer{
		GetStart:         chainStarts(ts, func(t *Tracer) func(context.Context, GetData) context.Context { return t.GetStart }),
		GetEnd:           chainEnds(ts, func(t *Tracer) func(context.Context, GetData) { return t.GetEnd }),
		DialStart:        chainStarts(ts, func(t *Tracer) func(context.Context, DialData) context.Context { return t.DialStart }),
		DialEnd:          chainEnds(ts, func(t *Tracer) func(context.Context, DialData) { return t.DialEnd }),
		HealthCheckStart: chainStarts(ts, func(t *Tracer) func(context.Context, HealthCheckData) context.Context { return t.HealthCheckStart }),
		HealthCheckEnd:   chainEnds(ts, func(t *Tracer) func(context.Context, HealthCheckData) { return t.HealthCheckEnd }),
		CommandStart:     chainStarts(ts, func(t *Tracer) func(context.Context, CommandData) context.Context { return t.CommandStart }),
		CommandEnd:       chainEnds(ts, func(t *Tracer) func(context.Context, CommandData) { return t.CommandEnd }),
		Release:          chainEvents(ts, func(t *Tracer) func(ReleaseData) { return t.Release }),
		StateChange:      chainEvents(ts, func(t *Tracer) func(StateChangeData) { return t.StateChange }),
		ConnClose:        chainEvents(ts, func(t *Tracer) func(ConnCloseData) { return t.ConnClose }),
		Misuse:           chainEvents(ts, func(t *Tracer) func(MisuseData) { return t.Misuse }),
		HealthEvent:      chainEvents(ts, func(t *Tracer) func(HealthEvent) { return t.HealthEvent }),
	}
}

// chainStarts returns a Start hook calling the hook of every tracer in ts
// that sets it, each with the context the previous one returned: nil when
// none sets it, that hook itself when one does.
func chainStarts[D any](ts []*Tracer, hook func(*Tracer) func(context.Context, D) context.Context) func(context.Context, D) context.Context {
	var hs []func(context.Context, D) context.Context
	for _, t := range ts {
		if h := hook(t); h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return hs[0]
	}
	return func(ctx context.Context, d D) context.Context {
		for _, h := range hs {
			ctx = h(ctx, d)
		}
		return ctx
	}
}

// chainEnds is chainStarts for End hooks.
func chainEnds[D any](ts []*Tracer, hook func(*Tracer) func(context.Context, D)) func(context.Context, D) {
	var hs []func(context.Context, D)
	for _, t := range ts {
		if h := hook(t); h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return hs[0]
	}
	return func(ctx context.Context, d D) {
		for _, h := range hs {
			h(ctx, d)
		}
	}
}

// chainEvents is chainStarts for event hooks.
func chainEvents[D any](ts []*Tracer, hook func(*Tracer) func(D)) func(D) {
	var hs []func(D)
	for _, t := range ts {
		if h := hook(t); h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return hs[0]
	}
	return func(d D) {
		for _, h := range hs {
			h(d)
		}
	}
}
