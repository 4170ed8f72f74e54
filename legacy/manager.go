package legacy

import (
	"context"
	"fmt"
	"sync"
)

// ConnectionManager is the old convenience API: one call gets the
// connection for (server, role) and runs a command on it, and the pool's
// status, cleanup and shutdown. A failed GetOrCreateConnection is returned
// as "failed to get connection: …", wrapping the *CommandError, as the old
// manager did.
type ConnectionManager struct {
	provider func() ConnectionProvider
}

var (
	managerOnce sync.Once
	manager     *ConnectionManager
)

// GetConnectionManager returns the singleton manager, the old accessor. It
// serves every call through GetConnectionPool(), resolved at each call, so
// it follows Install: while the router is installed, commands are routed
// and status and cleanup cover both pools.
func GetConnectionManager() *ConnectionManager {
	managerOnce.Do(func() { manager = NewConnectionManager() })
	return manager
}

// NewConnectionManager returns a manager over the singleton pool (resolved
// at each call, so it follows Install and ShutdownConnectionPool), as the
// old constructor did.
func NewConnectionManager() *ConnectionManager {
	return &ConnectionManager{provider: func() ConnectionProvider { return GetConnectionPool() }}
}

// NewConnectionManagerFor returns a manager that always uses p (for
// dependency injection: p is typically the router).
func NewConnectionManagerFor(p ConnectionProvider) *ConnectionManager {
	return &ConnectionManager{provider: func() ConnectionProvider { return p }}
}

// get returns the connection for server and role, with the old message.
func (m *ConnectionManager) get(server *Server, asRoot bool) (*PooledConnection, error) {
	c, err := m.provider().GetOrCreateConnection(server, asRoot)
	if err != nil {
		return nil, fmt.Errorf(prefixGetConnection+"%w", err)
	}
	return c, nil
}

// ExecuteCommand runs cmd on server as root or the app user and returns its
// combined output (see PooledConnection.ExecuteCommand).
func (m *ConnectionManager) ExecuteCommand(server *Server, asRoot bool, cmd string) (string, error) {
	return m.ExecuteCommandContext(context.Background(), server, asRoot, cmd)
}

// ExecuteCommandContext is ExecuteCommand bounded by ctx as well.
func (m *ConnectionManager) ExecuteCommandContext(ctx context.Context, server *Server, asRoot bool, cmd string) (string, error) {
	c, err := m.get(server, asRoot)
	if err != nil {
		return "", err
	}
	return c.ExecuteCommandContext(ctx, cmd)
}

// ExecuteCommandStream runs cmd on server and sends its output lines on
// out (see PooledConnection.ExecuteCommandStream); it does not close out.
func (m *ConnectionManager) ExecuteCommandStream(server *Server, asRoot bool, cmd string, out chan<- string) error {
	c, err := m.get(server, asRoot)
	if err != nil {
		return err
	}
	return c.ExecuteCommandStream(cmd, out)
}

// TestConnection gets the connection for server and runs its health check.
func (m *ConnectionManager) TestConnection(server *Server, asRoot bool) error {
	c, err := m.get(server, asRoot)
	if err != nil {
		return err
	}
	return c.TestHealth()
}

// GetConnectionStatus returns the provider's per-key status (empty when it
// reports none).
func (m *ConnectionManager) GetConnectionStatus() map[string]ConnectionHealthStatus {
	if r, ok := m.provider().(StatusReporter); ok {
		return r.GetConnectionStatus()
	}
	return map[string]ConnectionHealthStatus{}
}

// CleanupConnections removes connections unused for DefaultStaleAge (15
// minutes, the old manager's age) and returns how many.
func (m *ConnectionManager) CleanupConnections() int {
	if c, ok := m.provider().(StaleCleaner); ok {
		return c.CleanupStaleConnections(DefaultStaleAge)
	}
	return 0
}

// Shutdown stops the provider gracefully (see ConnectionPool.Stop).
func (m *ConnectionManager) Shutdown() {
	if s, ok := m.provider().(Stopper); ok {
		s.Stop()
	}
}
