package legacy

import (
	"context"

	"github.com/sshpool/sshpool/pool"
)

// SSHManager is the escape hatch of a *PooledConnection (GetManager), in
// the spirit of the old pool's, whose GetManager returned the SSH manager
// behind a pooled connection. It has the old manager's general methods,
// bound to the connection, and WithClient for what commands cannot do.
type SSHManager struct {
	c *PooledConnection
}

// ExecuteCommand is PooledConnection.ExecuteCommand.
func (m *SSHManager) ExecuteCommand(cmd string) (string, error) { return m.c.ExecuteCommand(cmd) }

// ExecuteCommandStream is PooledConnection.ExecuteCommandStream.
func (m *SSHManager) ExecuteCommandStream(cmd string, output chan<- string) error {
	return m.c.ExecuteCommandStream(cmd, output)
}

// RunCommand runs cmd and returns only its error, as the old manager's
// alias did.
func (m *SSHManager) RunCommand(cmd string) error {
	_, err := m.c.ExecuteCommand(cmd)
	return err
}

// TestConnection is PooledConnection.TestHealth.
func (m *SSHManager) TestConnection() error { return m.c.TestHealth() }

// IsConnected is PooledConnection.IsHealthy.
func (m *SSHManager) IsConnected() bool { return m.c.IsHealthy() }

// GetUsername returns the user the connection logs in as.
func (m *SSHManager) GetUsername() string { return m.c.server.User(m.c.asRoot) }

// IsRoot reports whether the connection logs in as the root user.
func (m *SSHManager) IsRoot() bool { return m.c.asRoot }

// GetServer returns a copy of the server the connection was made for.
func (m *SSHManager) GetServer() *Server {
	s := m.c.server
	return &s
}

// Close is PooledConnection.Close.
func (m *SSHManager) Close() error { return m.c.Close() }

// WithClient calls fn with an SSH client of the connection, for sftp,
// tunnels (DialContext) or raw sessions (NewSession): on the legacy pool
// the shared connection, on the adapter a lease of the new pool held for
// fn's duration, on the router the client of the route a command would
// take now. fn gets ctx bounded by the command timeout; it must not close
// the client, nor keep it after returning. Its error, and a failure to get
// a client, are returned as *CommandError (OpClient).
func (m *SSHManager) WithClient(ctx context.Context, fn func(context.Context, pool.SSHClient) error) error {
	return m.c.b.withClient(ctx, fn)
}
