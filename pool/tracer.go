package pool

import (
	"context"
	"time"

	"github.com/sshpool/sshpool/failure"
)

// PoolTracer observes a pool, in the style of pgx's tracers and
// net/http/httptrace: operations with a duration have a Start hook that may
// return a derived context and an End hook that receives it; the rest are
// plain events.
//
// Hooks run synchronously on the goroutine named in each method's doc,
// never while the pool holds a lock. They must be fast and must not block,
// must not call back into the pool (Get, Release, Close, ...), and must not
// retain the data's Err beyond the call if it is large. A tracer is shared
// by every goroutine using the pool, so it must be safe for concurrent use.
//
// A tracer that also implements HealthEventTracer receives health events
// (lost and unhealthy connections, replacements, circuit changes, leaks);
// one that implements CommandTracer sees every command run on a lease.
//
// Embed NoopTracer to implement only some hooks. A pool given NoopTracer
// (or nil) skips tracing entirely: no hook calls, no clock reads, no
// allocations on the hot path.
type PoolTracer interface {
	// TraceGetStart fires when Get begins, on the caller's goroutine.
	TraceGetStart(ctx context.Context, data GetData) context.Context
	// TraceGetEnd fires when Get returns, on the caller's goroutine, with
	// the context TraceGetStart returned and the same data, its outcome
	// filled in.
	TraceGetEnd(ctx context.Context, data GetData)
	// TraceDialStart fires before the factory's Dial, on the pool's dial
	// goroutine (or Warmup's). ctx carries the requesting caller's values.
	TraceDialStart(ctx context.Context, data DialData) context.Context
	// TraceDialEnd fires after Dial returns, on the same goroutine, with
	// the same data, its outcome filled in.
	TraceDialEnd(ctx context.Context, data DialData)
	// TraceRelease fires when a lease is returned (Release, the handle's
	// Close, or Run), on the releasing goroutine. Release is instantaneous,
	// so it is one event carrying how long the lease was held.
	TraceRelease(data ReleaseData)
	// TraceHealthCheckStart fires before one connection is probed by
	// HealthCheck or the health loop, on the probing goroutine.
	TraceHealthCheckStart(ctx context.Context, data HealthCheckData) context.Context
	// TraceHealthCheckEnd fires after the probe, on the same goroutine,
	// with the same data, its outcome filled in.
	TraceHealthCheckEnd(ctx context.Context, data HealthCheckData)
	// TraceStateChange fires when a connection is retired or marked
	// unhealthy, on the goroutine that noticed. Idle⇄active transitions
	// happen on every lease and are not traced.
	TraceStateChange(data StateChangeData)
	// TraceConnClose fires after a pooled connection's client was closed,
	// on the goroutine that closed it: once per connection, whatever the
	// reason. A connection evicted to make room for another key is a close
	// with ReasonEvicted whose Strategy names the eviction strategy; it
	// fires on the goroutine whose Get needed the room, after the pool
	// lock is released.
	TraceConnClose(data ConnCloseData)
	// TraceMisuse fires on a caller error the pool tolerates: double
	// release, foreign or nil client, key mismatch, use of a released
	// handle. It runs on the misusing goroutine.
	TraceMisuse(data MisuseData)
}

// GetData describes one Get. TraceGetStart receives it with the fields
// marked "Start"; TraceGetEnd receives the same value with the rest filled
// in.
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

// DialData describes one dial. TraceDialStart receives it with the fields
// marked "Start"; TraceDialEnd receives the same value with the rest
// filled in.
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

// ReleaseData is passed to TraceRelease.
type ReleaseData struct {
	Key    string // the pool key
	ConnID uint64 // the connection's id (as in EntryInfo.ID)
	// Held is how long the lease was held.
	Held time.Duration
}

// HealthCheckData describes one probe of a connection.
// TraceHealthCheckStart receives it with the fields marked "Start";
// TraceHealthCheckEnd receives the same value with the rest filled in.
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

// StateChangeData is passed to TraceStateChange.
type StateChangeData struct {
	Key    string      // the pool key
	ConnID uint64      // the connection's id (as in EntryInfo.ID)
	From   EntryState  // the state before
	To     EntryState  // the state after
	Reason CloseReason // why
	// Err is what caused an unhealthy mark, if known.
	Err error // the error, or nil
}

// ConnCloseData is passed to TraceConnClose.
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

// MisuseData is passed to TraceMisuse.
type MisuseData struct {
	// Key is the key passed by the caller, or the lease's key.
	Key string // the pool key
	// Op is the operation misused ("Release", "Run", ...).
	Op string
	// Err is the sentinel returned to the caller.
	Err error // the error, or nil
}

// CommandTracer is implemented by tracers that want every command run on a
// leased connection: by Pool.Run and Pool.Exec, or by a lease's Run and
// Exec (as the legacy adapter runs them). The pool checks for it once, when
// it is created.
type CommandTracer interface {
	// TraceCommandStart fires before the command's session opens, on the
	// caller's goroutine. The context it returns is the one the command
	// runs with (its values reach the SSH client).
	TraceCommandStart(ctx context.Context, data CommandData) context.Context
	// TraceCommandEnd fires when the command has ended (exited, failed, or
	// was abandoned with its context), on the same goroutine, with the
	// context TraceCommandStart returned and the same data, its outcome
	// filled in. Session-limit retries on the same lease are inside one
	// Start/End pair.
	TraceCommandEnd(ctx context.Context, data CommandData)
}

// CommandData describes one command run on a lease. TraceCommandStart
// receives it with the fields marked "Start"; TraceCommandEnd receives the
// same value with the rest filled in.
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

// NoopTracer implements PoolTracer with hooks that do nothing. A pool
// recognises it and skips tracing; embed it to implement a subset.
type NoopTracer struct{}

// TraceGetStart returns ctx.
func (NoopTracer) TraceGetStart(ctx context.Context, _ GetData) context.Context { return ctx }

// TraceGetEnd does nothing.
func (NoopTracer) TraceGetEnd(context.Context, GetData) {}

// TraceDialStart returns ctx.
func (NoopTracer) TraceDialStart(ctx context.Context, _ DialData) context.Context { return ctx }

// TraceDialEnd does nothing.
func (NoopTracer) TraceDialEnd(context.Context, DialData) {}

// TraceRelease does nothing.
func (NoopTracer) TraceRelease(ReleaseData) {}

// TraceHealthCheckStart returns ctx.
func (NoopTracer) TraceHealthCheckStart(ctx context.Context, _ HealthCheckData) context.Context {
	return ctx
}

// TraceHealthCheckEnd does nothing.
func (NoopTracer) TraceHealthCheckEnd(context.Context, HealthCheckData) {}

// TraceStateChange does nothing.
func (NoopTracer) TraceStateChange(StateChangeData) {}

// TraceConnClose does nothing.
func (NoopTracer) TraceConnClose(ConnCloseData) {}

// TraceMisuse does nothing.
func (NoopTracer) TraceMisuse(MisuseData) {}

// MultiTracer fans every hook out to each tracer in order, to combine for
// example a slog tracer (NewSlogTracer) with an OpenTelemetry one. Start
// hooks chain: each receives the context the previous one returned. The
// optional hooks (HealthEventTracer, CommandTracer) go to the tracers that
// implement them. Nil and NoopTracer entries are dropped; with none left it
// returns NoopTracer, with one left that tracer itself.
func MultiTracer(tracers ...PoolTracer) PoolTracer {
	var ts multiTracer
	for _, t := range tracers {
		if isNoop(t) {
			continue
		}
		ts = append(ts, t)
	}
	switch len(ts) {
	case 0:
		return NoopTracer{}
	case 1:
		return ts[0]
	}
	return ts
}

// tracerOrNil returns t, or nil for a tracer that does nothing.
func tracerOrNil(t PoolTracer) PoolTracer {
	if isNoop(t) {
		return nil
	}
	return t
}

func isNoop(t PoolTracer) bool {
	switch t.(type) {
	case nil, NoopTracer, *NoopTracer:
		return true
	}
	return false
}

type multiTracer []PoolTracer

// TraceGetStart chains the tracers' contexts.
func (m multiTracer) TraceGetStart(ctx context.Context, d GetData) context.Context {
	for _, t := range m {
		ctx = t.TraceGetStart(ctx, d)
	}
	return ctx
}

// TraceGetEnd calls every tracer in order.
func (m multiTracer) TraceGetEnd(ctx context.Context, d GetData) {
	for _, t := range m {
		t.TraceGetEnd(ctx, d)
	}
}

// TraceDialStart chains the tracers' contexts.
func (m multiTracer) TraceDialStart(ctx context.Context, d DialData) context.Context {
	for _, t := range m {
		ctx = t.TraceDialStart(ctx, d)
	}
	return ctx
}

// TraceDialEnd calls every tracer in order.
func (m multiTracer) TraceDialEnd(ctx context.Context, d DialData) {
	for _, t := range m {
		t.TraceDialEnd(ctx, d)
	}
}

// TraceRelease calls every tracer in order.
func (m multiTracer) TraceRelease(d ReleaseData) {
	for _, t := range m {
		t.TraceRelease(d)
	}
}

// TraceHealthCheckStart chains the tracers' contexts.
func (m multiTracer) TraceHealthCheckStart(ctx context.Context, d HealthCheckData) context.Context {
	for _, t := range m {
		ctx = t.TraceHealthCheckStart(ctx, d)
	}
	return ctx
}

// TraceHealthCheckEnd calls every tracer in order.
func (m multiTracer) TraceHealthCheckEnd(ctx context.Context, d HealthCheckData) {
	for _, t := range m {
		t.TraceHealthCheckEnd(ctx, d)
	}
}

// TraceStateChange calls every tracer in order.
func (m multiTracer) TraceStateChange(d StateChangeData) {
	for _, t := range m {
		t.TraceStateChange(d)
	}
}

// TraceConnClose calls every tracer in order.
func (m multiTracer) TraceConnClose(d ConnCloseData) {
	for _, t := range m {
		t.TraceConnClose(d)
	}
}

// TraceMisuse calls every tracer in order.
func (m multiTracer) TraceMisuse(d MisuseData) {
	for _, t := range m {
		t.TraceMisuse(d)
	}
}

// TraceCommandStart chains the contexts of the tracers that implement
// CommandTracer.
func (m multiTracer) TraceCommandStart(ctx context.Context, d CommandData) context.Context {
	for _, t := range m {
		if c, ok := t.(CommandTracer); ok {
			ctx = c.TraceCommandStart(ctx, d)
		}
	}
	return ctx
}

// TraceCommandEnd calls every tracer that implements CommandTracer.
func (m multiTracer) TraceCommandEnd(ctx context.Context, d CommandData) {
	for _, t := range m {
		if c, ok := t.(CommandTracer); ok {
			c.TraceCommandEnd(ctx, d)
		}
	}
}

// TraceHealthEvent calls every tracer that implements HealthEventTracer.
func (m multiTracer) TraceHealthEvent(ev HealthEvent) {
	for _, t := range m {
		if h, ok := t.(HealthEventTracer); ok {
			h.TraceHealthEvent(ev)
		}
	}
}
