package legacy

import (
	"context"
	"sync"
)

// ConnectionManager is the old convenience API: one call gets the
// connection for (server, role) and runs a command on it.
type ConnectionManager struct {
	provider func() ConnectionProvider
}

var (
	managerOnce sync.Once
	manager     *ConnectionManager
)

// GetConnectionManager returns the singleton manager. It resolves Provider
// at every call, so it follows Install: old call sites that use the manager
// move to the router without any edit.
func GetConnectionManager() *ConnectionManager {
	managerOnce.Do(func() { manager = &ConnectionManager{provider: Provider} })
	return manager
}

// NewConnectionManager returns a manager that always uses p.
func NewConnectionManager(p ConnectionProvider) *ConnectionManager {
	return &ConnectionManager{provider: func() ConnectionProvider { return p }}
}

// ExecuteCommand runs cmd on server as root or the app user and returns its
// combined output.
func (m *ConnectionManager) ExecuteCommand(server *Server, asRoot bool, cmd string) (string, error) {
	return m.ExecuteCommandContext(context.Background(), server, asRoot, cmd)
}

// ExecuteCommandContext is ExecuteCommand bounded by ctx when the
// connection supports it (every connection of this package does).
func (m *ConnectionManager) ExecuteCommandContext(ctx context.Context, server *Server, asRoot bool, cmd string) (string, error) {
	c, err := m.provider().GetOrCreateConnection(server, asRoot)
	if err != nil {
		return "", err
	}
	if cc, ok := c.(ContextConnection); ok {
		return cc.ExecuteCommandContext(ctx, cmd)
	}
	return c.ExecuteCommand(cmd)
}

// ExecuteCommandStream runs cmd on server and sends each line of its
// standard output on out; it does not close out.
func (m *ConnectionManager) ExecuteCommandStream(server *Server, asRoot bool, cmd string, out chan<- string) error {
	c, err := m.provider().GetOrCreateConnection(server, asRoot)
	if err != nil {
		return err
	}
	return c.ExecuteCommandStream(cmd, out)
}

// TestConnection gets the connection for server and runs its health check.
func (m *ConnectionManager) TestConnection(server *Server, asRoot bool) error {
	c, err := m.provider().GetOrCreateConnection(server, asRoot)
	if err != nil {
		return err
	}
	return c.TestHealth()
}

// GetConnectionStatus returns the provider's per-key status, or nil when it
// reports none.
func (m *ConnectionManager) GetConnectionStatus() map[string]ConnectionStatus {
	if r, ok := m.provider().(StatusReporter); ok {
		return r.GetConnectionStatus()
	}
	return nil
}
