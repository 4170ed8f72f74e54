package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/endhooks"
	"github.com/sshpool/sshpool/pool"
)

// Client is one authenticated SSH connection; it implements pool.SSHClient.
// It owns the jump-host connections it was dialled through and the SSH
// agent socket used for authentication, and closes them on Close. A
// goroutine started with the Client waits for the connection to end, closes
// Done at once, and exits; Close waits for it.
type Client struct {
	target           Target
	client           *ssh.Client   // the final hop
	hops             []*ssh.Client // every hop, the final one last
	agent            net.Conn      // nil without agent
	keepaliveTimeout time.Duration
	outputLimit      int64 // default Command.MaxOutput (WithMaxOutput); 0 = DefaultMaxOutput

	closed    atomic.Bool
	closeOnce sync.Once
	done      chan struct{} // closed when the connection has ended
	watchDone chan struct{} // closed when watch has returned
	err       error         // why it ended; written before done is closed

	end endhooks.Hooks // NotifyEnd callbacks, run by watch before done closes

	gate sessionGate // keeps Exec's sessions within the server's limit
}

var (
	_ pool.SSHClient   = (*Client)(nil)
	_ pool.EndNotifier = (*Client)(nil)
)

func newClient(t Target, hops []*ssh.Client, agentConn net.Conn) *Client {
	c := &Client{
		target: t, client: hops[len(hops)-1], hops: hops, agent: agentConn,
		keepaliveTimeout: t.keepaliveTimeout(),
		done:             make(chan struct{}), watchDone: make(chan struct{}),
	}
	go c.watch()
	return c
}

// watch waits for the connection to end, records why, closes Done and
// releases the hops and the agent socket.
func (c *Client) watch() {
	defer close(c.watchDone)
	err := c.client.Wait()
	if c.closed.Load() {
		c.err = ErrClosed
	} else {
		c.err = fmt.Errorf("%w: %s: %w", ErrConnectionLost, c.target.Addr(), errOr(err, io.EOF))
	}
	c.end.End()
	close(c.done)
	c.release()
}

func (c *Client) release() {
	closeAll(c.hops)
	if c.agent != nil {
		_ = c.agent.Close()
	}
}

// Target returns the target this client was dialled to.
func (c *Client) Target() Target { return c.target }

// Alive reports whether the connection is still open. It does no I/O.
func (c *Client) Alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return !c.closed.Load()
	}
}

// Done is closed as soon as the connection has ended, for any reason.
func (c *Client) Done() <-chan struct{} { return c.done }

// NotifyEnd registers f to run once when the connection ends, just before
// Done is closed, so whoever sees Done closed also sees what f did. If the
// connection has already ended, f runs before NotifyEnd returns. f must not
// block: it delays Done. It implements pool.EndNotifier.
func (c *Client) NotifyEnd(f func()) { c.end.NotifyEnd(f) }

// Err returns why the connection ended (wrapping ErrConnectionLost, or
// ErrClosed after Close), or nil while it is alive.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		if c.closed.Load() {
			return ErrClosed
		}
		return nil
	}
}

// Client returns the underlying *ssh.Client. Closing it closes the
// connection (Done is then closed and Err reports a lost connection).
func (c *Client) Client() *ssh.Client { return c.client }

// RemoteAddr is the address of the final hop's server.
func (c *Client) RemoteAddr() net.Addr { return c.client.RemoteAddr() }

// String describes the target, as Target.String does.
func (c *Client) String() string { return "sshconn.Client(" + c.target.String() + ")" }

// Close closes the connection, every session and tunnel on it, the jump
// hosts and the agent socket, and waits for the watcher goroutine. It is
// idempotent and always returns nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		_ = c.client.Close()
		c.release()
	})
	<-c.watchDone
	c.gate.close()
	return nil
}

// usable returns the error for an operation on a client that has ended.
func (c *Client) usable() error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.Err()
}

// opError wraps err from operation op, marking it as a lost connection
// when the connection has ended.
func (c *Client) opError(op string, err error) error {
	if e := c.usable(); e != nil && e != err {
		return fmt.Errorf("sshconn: %s on %s: %w: %w", op, c.target.Addr(), e, err)
	}
	return fmt.Errorf("sshconn: %s on %s: %w", op, c.target.Addr(), err)
}

// NewSession opens a session channel, bounded by ctx. When ctx ends first,
// NewSession returns at once with ctx's error and the session, if it opens
// later, is closed.
func (c *Client) NewSession(ctx context.Context) (*ssh.Session, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	s, err := c.openSession(ctx)
	if err != nil {
		return nil, c.opError("new session", sessionLimit(err))
	}
	return s, nil
}

// SessionLimitError marks a session channel the server refused for a
// reason other than Prohibited. OpenSSH 9.2 refuses sessions past
// MaxSessions with ConnectionFailed ("open failed"), not Prohibited, and a
// session channel has no other connection to fail, so the refusal means the
// connection is full: failure.SessionLimit, retryable on this or another
// connection (regression test TestSSHDSessionLimit).
type SessionLimitError struct {
	// Err is the *ssh.OpenChannelError.
	Err error
}

// Error describes the refusal.
func (e *SessionLimitError) Error() string {
	return "sshconn: session refused (connection at its session limit): " + e.Err.Error()
}

// Unwrap returns the *ssh.OpenChannelError.
func (e *SessionLimitError) Unwrap() error { return e.Err }

// ErrorKind returns failure.SessionLimit.
func (e *SessionLimitError) ErrorKind() failure.Kind { return failure.SessionLimit }

func sessionLimit(err error) error {
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) && oce.Reason != ssh.Prohibited && oce.Reason != ssh.UnknownChannelType {
		return &SessionLimitError{Err: err}
	}
	return err
}

type sessionResult struct {
	s   *ssh.Session
	err error
}

func (c *Client) openSession(ctx context.Context) (*ssh.Session, error) {
	if ctx.Done() == nil {
		return c.client.NewSession()
	}
	ch := make(chan sessionResult) // unbuffered: exactly one side takes the session
	go func() {
		s, err := c.client.NewSession()
		select {
		case ch <- sessionResult{s, err}:
		case <-ctx.Done():
			if s != nil {
				_ = s.Close()
			}
		}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// DialContext opens a direct-tcpip tunnel from the server to addr.
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	conn, err := c.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, c.opError("dial "+addr, withCtx(ctx, err))
	}
	return conn, nil
}
