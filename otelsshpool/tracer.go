package otelsshpool

import (
	"context"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/sshpool/sshpool/otelsshpool"

// Attribute keys.
const (
	KeyPoolKey     = attribute.Key("sshpool.key")
	KeyConnID      = attribute.Key("sshpool.conn.id")
	KeyGetHit      = attribute.Key("sshpool.get.hit")
	KeyGetWait     = attribute.Key("sshpool.get.wait_seconds")
	KeyErrorType   = attribute.Key("error.type")
	KeyExecutable  = attribute.Key("process.executable.name")
	KeyCommandLine = attribute.Key("process.command_line")
	KeyExitCode    = attribute.Key("process.exit.code")
)

// Tracer records sshpool's operations as OpenTelemetry spans; see the
// package documentation. It is safe for concurrent use. Create it with
// NewTracer; give its Pool hooks to the pool.
type Tracer struct {
	tracer      trace.Tracer
	commandLine bool
}

// Option configures NewTracer.
type Option func(*config)

type config struct {
	provider    trace.TracerProvider
	commandLine bool
}

// WithTracerProvider sets the provider spans are created with. Default:
// the global provider (otel.GetTracerProvider) at the time NewTracer runs.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.provider = tp }
}

// WithCommandLine records commands' whole command lines
// (process.command_line), arguments included. Off by default: arguments
// may carry secrets.
func WithCommandLine() Option {
	return func(c *config) { c.commandLine = true }
}

// NewTracer returns a Tracer.
func NewTracer(opts ...Option) *Tracer {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.provider == nil {
		c.provider = otel.GetTracerProvider()
	}
	return &Tracer{tracer: c.provider.Tracer(ScopeName), commandLine: c.commandLine}
}

// Pool returns the pool hooks recording the spans and events: every hook
// but Release (a release is instant and not traced). Pass them to
// pool.NewPool, alone or combined through pool.MultiTracer. Each call
// returns a new pool.Tracer.
func (t *Tracer) Pool() *pool.Tracer {
	return &pool.Tracer{GetStart: t.getStart, GetEnd: t.getEnd, DialStart: t.dialStart, DialEnd: t.dialEnd,
		HealthCheckStart: t.healthCheckStart, HealthCheckEnd: t.healthCheckEnd,
		CommandStart: t.commandStart, CommandEnd: t.commandEnd,
		StateChange: t.stateChange, ConnClose: t.connClose, Misuse: t.misuse, HealthEvent: t.healthEvent}
}

// getStart starts the sshpool.get span.
func (t *Tracer) getStart(ctx context.Context, d pool.GetData) context.Context {
	ctx, _ = t.tracer.Start(ctx, "sshpool.get", trace.WithAttributes(KeyPoolKey.String(d.Key)))
	return ctx
}

// getEnd ends the sshpool.get span.
func (t *Tracer) getEnd(ctx context.Context, d pool.GetData) {
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		span.SetAttributes(KeyGetHit.Bool(d.Hit), KeyGetWait.Float64(d.Waited.Seconds()))
		if d.ConnID != 0 {
			span.SetAttributes(KeyConnID.Int64(int64(d.ConnID)))
		}
		setError(span, d.Err)
	}
	span.End()
}

// dialStart starts the sshpool.dial span.
func (t *Tracer) dialStart(ctx context.Context, d pool.DialData) context.Context {
	ctx, _ = t.tracer.Start(ctx, "sshpool.dial", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(KeyPoolKey.String(d.Key)))
	return ctx
}

// dialEnd ends the sshpool.dial span.
func (t *Tracer) dialEnd(ctx context.Context, d pool.DialData) {
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		if d.ConnID != 0 {
			span.SetAttributes(KeyConnID.Int64(int64(d.ConnID)))
		}
		setError(span, d.Err)
	}
	span.End()
}

// healthCheckStart starts the sshpool.health_check span.
func (t *Tracer) healthCheckStart(ctx context.Context, d pool.HealthCheckData) context.Context {
	ctx, _ = t.tracer.Start(ctx, "sshpool.health_check",
		trace.WithAttributes(KeyPoolKey.String(d.Key), KeyConnID.Int64(int64(d.ConnID))))
	return ctx
}

// healthCheckEnd ends the sshpool.health_check span.
func (t *Tracer) healthCheckEnd(ctx context.Context, d pool.HealthCheckData) {
	span := trace.SpanFromContext(ctx)
	setError(span, d.Err)
	span.End()
}

// commandStart starts the sshpool.command span.
func (t *Tracer) commandStart(ctx context.Context, d pool.CommandData) context.Context {
	attrs := []attribute.KeyValue{KeyPoolKey.String(d.Key), KeyConnID.Int64(int64(d.ConnID)),
		KeyExecutable.String(Executable(d.Cmd))}
	if t.commandLine {
		attrs = append(attrs, KeyCommandLine.String(d.Cmd))
	}
	ctx, _ = t.tracer.Start(ctx, "sshpool.command", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// commandEnd ends the sshpool.command span.
func (t *Tracer) commandEnd(ctx context.Context, d pool.CommandData) {
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		span.SetAttributes(KeyExitCode.Int(d.ExitStatus))
		setError(span, d.Err)
	}
	span.End()
}

// setError marks span failed with err's message and kind; nil does nothing.
func setError(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.SetAttributes(KeyErrorType.String(failure.Classify(err).String()))
	span.SetStatus(codes.Error, err.Error())
}

// Executable returns the program a command line runs, without arguments
// or directory: the first word that is not a VAR=value assignment, with
// its path stripped ("FOO=1 /usr/bin/env -i ls" → "env"). It is what the
// sshpool.command span records by default.
func Executable(cmd string) string {
	for _, w := range strings.Fields(cmd) {
		if eq := strings.IndexByte(w, '='); eq > 0 && !strings.ContainsAny(w[:eq], "/\"'$") {
			continue // an assignment: its value may be a secret
		}
		return path.Base(strings.Trim(w, "\"'"))
	}
	return ""
}

// event records one event without a caller's context as a span of its own.
func (t *Tracer) event(name string, at time.Time, err error, attrs ...attribute.KeyValue) {
	opts := []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	if !at.IsZero() {
		opts = append(opts, trace.WithTimestamp(at))
	}
	_, span := t.tracer.Start(context.Background(), "sshpool.event", opts...)
	if span.IsRecording() {
		evOpts := []trace.EventOption{trace.WithAttributes(attrs...)}
		if !at.IsZero() {
			evOpts = append(evOpts, trace.WithTimestamp(at))
		}
		span.AddEvent(name, evOpts...)
		setError(span, err)
	}
	span.End()
}
