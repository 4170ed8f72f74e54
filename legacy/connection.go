package legacy

import (
	"context"

	"github.com/sshpool/sshpool/pool"
)

// PooledConnection is the one connection type of this package: what
// GetOrCreateConnection returns on the legacy pool, the adapter and the
// router alike, with the old pool's methods. Its backend is one of:
//
//   - a connection of the legacy pool: one SSH connection per (server,
//     user), shared by every holder, re-established in place when it died
//     or failed its health check;
//   - a key of the adapter: every command leases a connection of the new
//     pool, runs, and releases it;
//   - a connection of the router: every command decides its pool (see
//     Router) and runs on that pool's connection.
//
// All three return the same output and the same errors (*CommandError) for
// the same situation. Every command is bounded by the command timeout
// (WithCommandTimeout, 5 minutes by default) and, in the Context variants,
// by ctx. Methods are safe for concurrent use; commands run concurrently
// (SSH multiplexes sessions), and sessions beyond the server's MaxSessions
// wait for a slot instead of failing.
type PooledConnection struct {
	key    string
	server Server
	asRoot bool
	b      backend
}

// backend is what a PooledConnection runs on. Every method is safe for
// concurrent use.
type backend interface {
	exec(ctx context.Context, cmd string) (string, error)
	stream(ctx context.Context, cmd string, out chan<- string) error
	withClient(ctx context.Context, fn func(context.Context, pool.SSHClient) error) error
	testHealth() error
	// isHealthy may re-establish a dead connection (legacy pool).
	isHealthy() bool
	touch()
	status() ConnectionHealthStatus
	close() error
	isClosed() bool
}

func newPooledConnection(key string, s *Server, asRoot bool, b backend) *PooledConnection {
	return &PooledConnection{key: key, server: *s, asRoot: asRoot, b: b}
}

// Key returns the pool key, "host:port:id:root|app".
func (c *PooledConnection) Key() string { return c.key }

// Server returns a copy of the server the connection was made for.
func (c *PooledConnection) Server() Server { return c.server }

// AsRoot reports whether the connection logs in as the root user.
func (c *PooledConnection) AsRoot() bool { return c.asRoot }

// ExecuteCommand runs cmd and returns its standard output and standard
// error, interleaved as they arrived. A command that ran and exited
// non-zero returns its output and a *CommandError wrapping *pool.ExitError
// ("command failed: …"); a command that could not start returns a
// *CommandError whose cause is marked pool.ErrNotStarted ("connection is
// not healthy: …"). An empty cmd returns ErrEmptyCommand.
func (c *PooledConnection) ExecuteCommand(cmd string) (string, error) {
	return c.ExecuteCommandContext(context.Background(), cmd)
}

// ExecuteCommandContext is ExecuteCommand bounded by ctx as well.
func (c *PooledConnection) ExecuteCommandContext(ctx context.Context, cmd string) (string, error) {
	if cmd == "" {
		return "", ErrEmptyCommand
	}
	return c.b.exec(ctx, cmd)
}

// ExecuteCommandStream runs cmd and sends its output on output as it
// arrives, in the old pool's shape: each line of standard output as
// "[OUT] line" (PrefixOut), each line of standard error as "[ERR] line"
// (PrefixErr), in arrival order; a last line without a newline is sent too,
// and a line longer than 64 KiB is sent in 64 KiB pieces. It returns when
// the command has ended and every line has been delivered or dropped; it
// never closes output.
//
// A reader that does not keep up does not stall the remote command or the
// connection: undelivered lines wait in a bounded queue (WithStreamBuffer,
// 10000 lines by default). Lines beyond it, and those the reader has not
// taken within a second (DefaultStreamIdle) of the command's end, are
// dropped; the old pool dropped lines silently whenever the channel was
// full, these are counted in GetHealthStatus().DroppedLines and logged.
// Errors are as for ExecuteCommand; a nil output returns ErrNilOutput.
func (c *PooledConnection) ExecuteCommandStream(cmd string, output chan<- string) error {
	return c.ExecuteCommandStreamContext(context.Background(), cmd, output)
}

// ExecuteCommandStreamContext is ExecuteCommandStream bounded by ctx as
// well.
func (c *PooledConnection) ExecuteCommandStreamContext(ctx context.Context, cmd string, output chan<- string) error {
	switch {
	case cmd == "":
		return ErrEmptyCommand
	case output == nil:
		return ErrNilOutput
	}
	return c.b.stream(ctx, cmd, output)
}

// IsHealthy reports whether the connection can serve a command now: it is
// not closed, its SSH connection is open and passed its last health check.
// On the legacy pool, a connection whose SSH connection died or failed its
// health check is re-established first, bounded by the dial timeout, as
// the old pool's IsHealthy re-established a dead connection.
func (c *PooledConnection) IsHealthy() bool { return c.b.isHealthy() }

// TestHealth runs the health command (WithHealthCheck: "true" within 10 s
// by default) and returns its failure ("health check failed: …"). On the
// legacy pool a failure marks the SSH connection for replacement: the next
// command re-establishes it.
func (c *PooledConnection) TestHealth() error { return c.b.testHealth() }

// UpdateLastUsed records a use now: LastUsed moves and UseCount grows, as
// every command and every GetOrCreateConnection that finds the connection
// do.
func (c *PooledConnection) UpdateLastUsed() { c.b.touch() }

// GetHealthStatus returns the connection's status. Unlike the old pool's,
// it does no I/O: ResponseTime is the duration of the last successful
// health check.
func (c *PooledConnection) GetHealthStatus() ConnectionHealthStatus { return c.b.status() }

// Close closes the connection. On the legacy pool it closes the shared SSH
// connection at once, as the old pool did: commands running on it fail,
// every holder's next command fails with ErrConnectionClosed, and the
// pool's next GetOrCreateConnection for the key makes a new connection. On
// the adapter and the router only this connection value is closed; the
// pools' connections stay open for other holders. It is idempotent.
func (c *PooledConnection) Close() error { return c.b.close() }

// Closed reports whether the connection was closed (by Close or by its
// pool). A closed connection runs no more commands.
func (c *PooledConnection) Closed() bool { return c.b.isClosed() }

// GetManager returns the connection's SSHManager, the escape hatch the old
// pool offered (its GetManager returned the underlying SSH manager): the
// old manager's general methods, and WithClient for what commands cannot
// do (sftp, tunnels, raw sessions).
func (c *PooledConnection) GetManager() *SSHManager { return &SSHManager{c: c} }
