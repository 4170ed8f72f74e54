package pool

import (
	"context"
	"log/slog"
)

// slogTracer is the tracer of NewSlogTracer.
type slogTracer struct {
	log *slog.Logger
}

// NewSlogTracer returns a PoolTracer that logs to l (slog.Default() when
// nil): Get, Release and health probes at Debug, dials, state changes and
// closes at Info (an eviction is a close with reason evicted and the
// strategy), failures and misuse at Warn. Records carry keys, connection
// ids, durations and errors; never credentials. It is also a
// HealthEventTracer (health events at Info, failures at Warn).
func NewSlogTracer(l *slog.Logger) PoolTracer {
	if l == nil {
		l = slog.Default()
	}
	return &slogTracer{log: l.With(slog.String("component", "sshpool"))}
}

// TraceGetStart returns ctx unchanged.
func (t *slogTracer) TraceGetStart(ctx context.Context, _ GetData) context.Context { return ctx }

// TraceGetEnd logs the Get's outcome.
func (t *slogTracer) TraceGetEnd(ctx context.Context, d GetData) {
	if d.Err != nil {
		t.log.LogAttrs(ctx, slog.LevelWarn, "pool get failed", slog.String("key", d.Key),
			slog.Duration("waited", d.Waited), slog.Any("error", d.Err))
		return
	}
	t.log.LogAttrs(ctx, slog.LevelDebug, "pool get", slog.String("key", d.Key), slog.Uint64("conn", d.ConnID),
		slog.Bool("hit", d.Hit), slog.Duration("waited", d.Waited), slog.Duration("duration", d.Duration))
}

// TraceDialStart returns ctx unchanged.
func (t *slogTracer) TraceDialStart(ctx context.Context, _ DialData) context.Context { return ctx }

// TraceDialEnd logs the dial's outcome.
func (t *slogTracer) TraceDialEnd(ctx context.Context, d DialData) {
	if d.Err != nil {
		t.log.LogAttrs(ctx, slog.LevelWarn, "pool dial failed", slog.String("key", d.Key),
			slog.String("kind", d.Kind.String()), slog.Duration("duration", d.Duration), slog.Any("error", d.Err))
		return
	}
	t.log.LogAttrs(ctx, slog.LevelInfo, "pool dial", slog.String("key", d.Key), slog.Uint64("conn", d.ConnID),
		slog.Duration("duration", d.Duration))
}

// TraceRelease logs the release.
func (t *slogTracer) TraceRelease(d ReleaseData) {
	t.log.LogAttrs(context.Background(), slog.LevelDebug, "pool release", slog.String("key", d.Key),
		slog.Uint64("conn", d.ConnID), slog.Duration("held", d.Held))
}

// TraceHealthCheckStart returns ctx unchanged.
func (t *slogTracer) TraceHealthCheckStart(ctx context.Context, _ HealthCheckData) context.Context {
	return ctx
}

// TraceHealthCheckEnd logs the probe's outcome.
func (t *slogTracer) TraceHealthCheckEnd(ctx context.Context, d HealthCheckData) {
	level := slog.LevelDebug
	if d.Err != nil {
		level = slog.LevelWarn
	}
	t.log.LogAttrs(ctx, level, "pool health check", slog.String("key", d.Key), slog.Uint64("conn", d.ConnID),
		slog.Duration("duration", d.Duration), slog.Any("error", d.Err))
}

// TraceStateChange logs the transition.
func (t *slogTracer) TraceStateChange(d StateChangeData) {
	t.log.LogAttrs(context.Background(), slog.LevelInfo, "pool connection state", slog.String("key", d.Key),
		slog.Uint64("conn", d.ConnID), slog.String("from", string(d.From)), slog.String("to", string(d.To)),
		slog.String("reason", string(d.Reason)), slog.Any("error", d.Err))
}

// TraceConnClose logs the close, with the eviction strategy when one
// chose the connection.
func (t *slogTracer) TraceConnClose(d ConnCloseData) {
	attrs := []slog.Attr{slog.String("key", d.Key), slog.Uint64("conn", d.ConnID),
		slog.String("reason", string(d.Reason))}
	if d.Strategy != "" {
		attrs = append(attrs, slog.String("strategy", d.Strategy))
	}
	attrs = append(attrs, slog.Duration("age", d.Age), slog.Int64("uses", d.UseCount), slog.Any("error", d.Err))
	t.log.LogAttrs(context.Background(), slog.LevelInfo, "pool connection closed", attrs...)
}

// TraceMisuse logs the misuse at Warn.
func (t *slogTracer) TraceMisuse(d MisuseData) {
	t.log.LogAttrs(context.Background(), slog.LevelWarn, "pool misuse", slog.String("key", d.Key),
		slog.String("op", d.Op), slog.Any("error", d.Err))
}

// TraceHealthEvent logs a health event: circuit trials at Debug (up to
// one a second per failing key), circuit closes and replacements at Info,
// the rest at Warn. A leak report carries the Get's stack when DebugLeaks
// recorded one; a warm-up backoff, the pause and the failures in a row.
func (t *slogTracer) TraceHealthEvent(ev HealthEvent) {
	level := slog.LevelWarn
	switch ev.Type {
	case EventCircuitHalfOpen:
		level = slog.LevelDebug
	case EventCircuitClosed, EventReplacing, EventLeakReleased:
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("event", string(ev.Type)), slog.String("key", ev.Key)}
	if ev.ConnID != 0 {
		attrs = append(attrs, slog.Uint64("conn", ev.ConnID))
	}
	if ev.Err != nil {
		attrs = append(attrs, slog.Any("error", ev.Err))
	}
	if ev.Held != 0 {
		attrs = append(attrs, slog.Duration("held", ev.Held))
	}
	if ev.Stack != "" {
		attrs = append(attrs, slog.String("stack", ev.Stack))
	}
	if ev.Backoff != 0 {
		attrs = append(attrs, slog.Duration("backoff", ev.Backoff), slog.Int("failures", ev.Failures))
	}
	t.log.LogAttrs(context.Background(), level, "pool health event", attrs...)
}
