package pool

import (
	"context"
	"log/slog"
)

// slogTracer is the tracer of NewSlogTracer.
type slogTracer struct {
	log *slog.Logger
}

// NewSlogTracer returns a Tracer that logs to l (slog.Default() when nil):
// Get, Release and health probes at Debug, dials, state changes and closes
// at Info (an eviction is a close with reason evicted and the strategy),
// failures and misuse at Warn, and health events (at Info, failures at
// Warn). Records carry keys, connection ids, durations and errors; never
// credentials. It sets no Start hook and no command hook.
func NewSlogTracer(l *slog.Logger) *Tracer {
	if l == nil {
		l = slog.Default()
	}
	t := &slogTracer{log: l.With(slog.String("component", "sshpool"))}
	return &Tracer{GetEnd: t.getEnd, DialEnd: t.dialEnd, HealthCheckEnd: t.healthCheckEnd, Release: t.release,
		StateChange: t.stateChange, ConnClose: t.connClose, Misuse: t.misuse, HealthEvent: t.healthEvent}
}

// getEnd logs the Get's outcome.
func (t *slogTracer) getEnd(ctx context.Context, d GetData) {
	if d.Err != nil {
		t.log.LogAttrs(ctx, slog.LevelWarn, "pool get failed", slog.String("key", d.Key),
			slog.Duration("waited", d.Waited), slog.Any("error", d.Err))
		return
	}
	t.log.LogAttrs(ctx, slog.LevelDebug, "pool get", slog.String("key", d.Key), slog.Uint64("conn", d.ConnID),
		slog.Bool("hit", d.Hit), slog.Duration("waited", d.Waited), slog.Duration("duration", d.Duration))
}

// dialEnd logs the dial's outcome.
func (t *slogTracer) dialEnd(ctx context.Context, d DialData) {
	if d.Err != nil {
		t.log.LogAttrs(ctx, slog.LevelWarn, "pool dial failed", slog.String("key", d.Key),
			slog.String("kind", d.Kind.String()), slog.Duration("duration", d.Duration), slog.Any("error", d.Err))
		return
	}
	t.log.LogAttrs(ctx, slog.LevelInfo, "pool dial", slog.String("key", d.Key), slog.Uint64("conn", d.ConnID),
		slog.Duration("duration", d.Duration))
}

// release logs the release.
func (t *slogTracer) release(d ReleaseData) {
	t.log.LogAttrs(context.Background(), slog.LevelDebug, "pool release", slog.String("key", d.Key),
		slog.Uint64("conn", d.ConnID), slog.Duration("held", d.Held))
}

// healthCheckEnd logs the probe's outcome.
func (t *slogTracer) healthCheckEnd(ctx context.Context, d HealthCheckData) {
	level := slog.LevelDebug
	if d.Err != nil {
		level = slog.LevelWarn
	}
	t.log.LogAttrs(ctx, level, "pool health check", slog.String("key", d.Key), slog.Uint64("conn", d.ConnID),
		slog.Duration("duration", d.Duration), slog.Any("error", d.Err))
}

// stateChange logs the transition.
func (t *slogTracer) stateChange(d StateChangeData) {
	t.log.LogAttrs(context.Background(), slog.LevelInfo, "pool connection state", slog.String("key", d.Key),
		slog.Uint64("conn", d.ConnID), slog.String("from", string(d.From)), slog.String("to", string(d.To)),
		slog.String("reason", string(d.Reason)), slog.Any("error", d.Err))
}

// connClose logs the close, with the eviction strategy when one
// chose the connection.
func (t *slogTracer) connClose(d ConnCloseData) {
	attrs := []slog.Attr{slog.String("key", d.Key), slog.Uint64("conn", d.ConnID),
		slog.String("reason", string(d.Reason))}
	if d.Strategy != "" {
		attrs = append(attrs, slog.String("strategy", d.Strategy))
	}
	attrs = append(attrs, slog.Duration("age", d.Age), slog.Int64("uses", d.UseCount), slog.Any("error", d.Err))
	t.log.LogAttrs(context.Background(), slog.LevelInfo, "pool connection closed", attrs...)
}

// misuse logs the misuse at Warn.
func (t *slogTracer) misuse(d MisuseData) {
	t.log.LogAttrs(context.Background(), slog.LevelWarn, "pool misuse", slog.String("key", d.Key),
		slog.String("op", d.Op), slog.Any("error", d.Err))
}

// healthEvent logs a health event: circuit trials at Debug (up to
// one a second per failing key), circuit closes and replacements at Info,
// the rest at Warn. A leak report carries the Get's stack when DebugLeaks
// recorded one; a warm-up backoff, the pause and the failures in a row.
func (t *slogTracer) healthEvent(ev HealthEvent) {
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
