package legacy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/pool"
)

// routedConn is the router's backend of a *PooledConnection. Every command
// decides its route (so a flip affects commands that start after it) and
// runs on that pool's connection, got once per route and kept; a command
// in flight finishes on the pool it started on.
type routedConn struct {
	r       *Router
	key     string
	server  Server
	user    string
	asRoot  bool
	ec      openfeature.EvaluationContext
	handoff handoff // GetOrCreateConnection's decision, for the first command
	closed  atomic.Bool
	rk      atomic.Pointer[routeKey] // the router's state for key, while it keeps it

	// conns holds each route's connection; commands read it without a
	// lock. mu is held to change it, across the provider's
	// GetOrCreateConnection, so a routed connection gets each route's
	// connection once even when commands on it run concurrently.
	mu    sync.Mutex
	conns [numRoutes]atomic.Pointer[PooledConnection]
}

// handoff holds one decision for the next command to take, without an
// allocation per decision (GetOrCreateConnection leaves one for every
// old-style call when there is no decision cache).
type handoff struct {
	mu  sync.Mutex
	set bool
	cd  cachedDecision
}

// put leaves cd for the next take, replacing any decision left before.
func (h *handoff) put(cd cachedDecision) {
	h.mu.Lock()
	h.cd, h.set = cd, true
	h.mu.Unlock()
}

// take returns the decision left and clears it; ok is false when there
// is none.
func (h *handoff) take() (cd cachedDecision, ok bool) {
	h.mu.Lock()
	cd, ok = h.cd, h.set
	h.cd, h.set = cachedDecision{}, false
	h.mu.Unlock()
	return cd, ok
}

// maxClosedRetries bounds how often a command is re-routed after finding
// its connection closed (by a drain or a removal) before it started.
const maxClosedRetries = 3

// conn returns the route's connection, getting one from its provider the
// first time and after the previous one was closed; found reports whether
// it was already there.
func (c *routedConn) conn(route Route) (conn *PooledConnection, found bool, err error) {
	if cur := c.conns[route].Load(); cur != nil && !cur.Closed() {
		return cur, true, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.conns[route].Load(); cur != nil && !cur.Closed() {
		return cur, true, nil
	}
	conn, err = getDirect(c.r.providers[route], &c.server, c.asRoot)
	if err != nil {
		return nil, false, err
	}
	c.conns[route].Store(conn)
	return conn, false, nil
}

// cached returns the route's connection if there is one, without getting
// one.
func (c *routedConn) cached(route Route) *PooledConnection {
	return c.conns[route].Load()
}

// forget drops conn from the route's slot if it is still there.
func (c *routedConn) forget(route Route, conn *PooledConnection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns[route].CompareAndSwap(conn, nil)
}

// run decides, gets the route's connection and calls fn on it, re-routing
// when the connection was closed before the command started. A failure to
// get the connection is returned as a command that did not start.
func (c *routedConn) run(ctx context.Context, op, cmd string, fn func(*PooledConnection) error) error {
	if c.closed.Load() {
		return &CommandError{Op: op, Key: c.key, Cmd: cmd, Err: notStarted(ErrConnectionClosed)}
	}
	for attempt := 0; ; attempt++ {
		d := c.r.decideFor(ctx, c, false)
		conn, _, err := c.conn(d.Route)
		if err != nil {
			var ce *CommandError
			if errors.As(err, &ce) && ce.Op == OpConnect {
				err = ce.Err
			}
			return &CommandError{Op: op, Key: c.key, Cmd: cmd, Err: notStarted(err)}
		}
		err = fn(conn)
		if attempt < maxClosedRetries && errors.Is(err, ErrConnectionClosed) && !c.closed.Load() {
			c.forget(d.Route, conn)
			continue
		}
		return err
	}
}

func (c *routedConn) exec(ctx context.Context, cmd string) (out string, err error) {
	err = c.run(ctx, OpExec, cmd, func(conn *PooledConnection) (err error) {
		out, err = conn.b.exec(ctx, cmd)
		return err
	})
	return out, err
}

func (c *routedConn) stream(ctx context.Context, cmd string, out chan<- string) error {
	return c.run(ctx, OpStream, cmd, func(conn *PooledConnection) error {
		return conn.b.stream(ctx, cmd, out)
	})
}

func (c *routedConn) withClient(ctx context.Context, fn func(context.Context, pool.SSHClient) error) error {
	return c.run(ctx, OpClient, "", func(conn *PooledConnection) error {
		return conn.b.withClient(ctx, fn)
	})
}

// testHealth routes and runs the health check.
func (c *routedConn) testHealth() error {
	return c.run(context.Background(), OpHealth, "", func(conn *PooledConnection) error {
		return conn.TestHealth()
	})
}

// isHealthy reports whether the connection of the route a command would
// take now is healthy.
func (c *routedConn) isHealthy() bool {
	if c.closed.Load() {
		return false
	}
	d := c.r.decideFor(context.Background(), c, false)
	conn, _, err := c.conn(d.Route)
	return err == nil && conn.IsHealthy()
}

// routeKey returns the router's state for c's key: the one c kept,
// unless the router has forgotten it since, then the router's current one
// (made anew if needed), kept in turn. Every command's decision reads it;
// keeping it saves hashing the key into the router's map twice per
// old-style call.
func (c *routedConn) routeKey() *routeKey {
	if rk := c.rk.Load(); rk != nil && !rk.dropped.Load() {
		return rk
	}
	rk := c.r.routeKey(c.key)
	c.rk.Store(rk)
	return rk
}

// current returns the connection of the key's last route, nil if none.
func (c *routedConn) current() *PooledConnection {
	route := RouteLegacy
	if v := c.routeKey().route.Load(); v != 0 {
		route = Route(v - 1)
	}
	return c.cached(route)
}

func (c *routedConn) touch() {
	if conn := c.current(); conn != nil {
		conn.UpdateLastUsed()
	}
}

// status is the status of the connection of the key's last route.
func (c *routedConn) status() ConnectionHealthStatus {
	conn := c.current()
	if conn == nil {
		return ConnectionHealthStatus{}
	}
	st := conn.GetHealthStatus()
	st.Healthy = st.Healthy && !c.closed.Load()
	return st
}

// close marks the connection closed; the pools' connections stay open for
// other callers (closing the legacy one would cut every holder of the key).
func (c *routedConn) close() error {
	c.closed.Store(true)
	return nil
}

func (c *routedConn) isClosed() bool { return c.closed.Load() }
