package providers

import (
	"log/slog"

	"github.com/google/wire"

	"github.com/sshpool/sshpool/pool"
)

// TracerSet provides the pool's tracer.
var TracerSet = wire.NewSet(NewTracer)

// NewTracer returns a slog tracer on logger, or pool.NoopTracer (free on
// the hot path) when logger is nil.
func NewTracer(logger *slog.Logger) pool.PoolTracer {
	if logger == nil {
		return pool.NoopTracer{}
	}
	return pool.NewSlogTracer(logger)
}
