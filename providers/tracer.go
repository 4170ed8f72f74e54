package providers

import (
	"log/slog"

	"github.com/google/wire"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// TracerSet provides the pool's tracer.
var TracerSet = wire.NewSet(NewTracer)

// Observers are hooks a host adds to the components, typically an
// OpenTelemetry implementation (module otelsshpool) beside the slog
// logging of Config.Logger. The zero value adds nothing.
type Observers struct {
	// Tracer is a pool tracer combined with the slog tracer (when there is
	// a logger) through pool.MultiTracer. It may also implement
	// pool.HealthEventTracer and pool.CommandTracer.
	Tracer pool.PoolTracer
	// DecisionHook is called after every routing decision
	// (legacy.WithDecisionHook): fast, non-blocking, on the deciding
	// goroutine.
	DecisionHook func(legacy.Decision)
	// FlagHooks are OpenFeature hooks added to the flags API, run around
	// every flag evaluation.
	FlagHooks []openfeature.Hook
}

// NewTracer returns the pool's tracer: a slog tracer on logger combined
// with obs.Tracer, either alone when the other is missing, or
// pool.NoopTracer (free on the hot path) when both are.
func NewTracer(logger *slog.Logger, obs Observers) pool.PoolTracer {
	var slogTracer pool.PoolTracer
	if logger != nil {
		slogTracer = pool.NewSlogTracer(logger)
	}
	return pool.MultiTracer(slogTracer, obs.Tracer)
}
