package legacy

import (
	"context"
	"time"
)

// ConnectionProvider hands out connections the way the old pool did. The
// legacy pool, the adapter and the router implement it, and so do the
// optional interfaces below; Install takes one, and the router routes
// between two.
type ConnectionProvider interface {
	GetOrCreateConnection(server *Server, asRoot bool) (*PooledConnection, error)
}

// StatusReporter is implemented by providers that report per-key status
// (GetConnectionStatus), under the old keys "host:port:id:root|app".
type StatusReporter interface {
	GetConnectionStatus() map[string]ConnectionHealthStatus
}

// StaleCleaner is implemented by providers that can close connections
// unused for longer than maxAge.
type StaleCleaner interface {
	CleanupStaleConnections(maxAge time.Duration) int
}

// Remover is implemented by providers that can remove a key's connection.
type Remover interface {
	RemoveConnection(key string)
}

// IdleDropper is implemented by providers that can drop a key's idle
// connection; the router calls it on the pool that lost a key's traffic.
type IdleDropper interface {
	RemoveIdleConnection(server *Server, asRoot bool) bool
}

// Stopper is implemented by providers that stop gracefully: new calls are
// refused, running commands may finish until ctx ends, and what was cut
// then is returned as a *DrainError. Stop is StopContext bounded by the
// provider's drain timeout.
type Stopper interface {
	Stop()
	StopContext(ctx context.Context) error
}
