package legacy

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// Flag keys the router evaluates; the same values as featureflags.FlagKillSwitch
// and featureflags.FlagUseNewPool (this package imports only pool).
const (
	// FlagKillSwitch (bool): true routes every call to the legacy pool.
	FlagKillSwitch = "kill-switch"
	// FlagUseNewPool (bool): true routes the server's calls to the new pool.
	FlagUseNewPool = "use-new-pool"
)

// Route names the pool that serves a command.
type Route uint8

// The routes.
const (
	RouteLegacy Route = iota // the legacy ConnectionPool
	RouteNew                 // the new pool, through the Adapter
	numRoutes
)

// String returns "legacy" or "new".
func (r Route) String() string {
	if r == RouteNew {
		return "new"
	}
	return "legacy"
}

// Reason says why the router chose a route.
type Reason uint8

// The reasons. The last three are fallbacks to legacy.
const (
	ReasonFlagOff          Reason = iota // use-new-pool evaluated false
	ReasonFlagOn                         // use-new-pool evaluated true
	ReasonKillSwitch                     // kill-switch evaluated true
	ReasonFlagNotFound                   // a flag is unknown to the provider
	ReasonProviderNotReady               // the provider is not ready (or fatal)
	ReasonEvalError                      // any other evaluation error
	numReasons
)

var reasonNames = [numReasons]string{"flag-off", "flag-on", "kill-switch",
	"flag-not-found", "provider-not-ready", "eval-error"}

// String returns a short name such as "kill-switch".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Fallback reports whether the reason is an evaluation failure that routed
// to legacy as the safe side.
func (r Reason) Fallback() bool { return r >= ReasonFlagNotFound }

// Decision is one routing decision, reported to the decision hook.
type Decision struct {
	// Server and AsRoot are the call's target; Server must not be
	// modified or retained past the hook.
	Server *Server
	AsRoot bool
	// Route is the pool chosen, Reason why.
	Route  Route
	Reason Reason
	// Flag is the flag that decided; Variant its variant ("" if none).
	Flag    string
	Variant string
	// Err is the evaluation error of a fallback, else nil.
	Err error
	// Latency is how long the decision took (both flag evaluations).
	Latency time.Duration
}

// routerConfig is a Router's configuration; read-only after NewRouter.
type routerConfig struct {
	onDecision func(Decision)
	onChange   func(server *Server, asRoot bool, from, to Route)
	drain      bool
	cacheTTL   time.Duration
}

// RouterOption configures a Router.
type RouterOption func(*routerConfig)

// WithDecisionHook sets a function called after every decision, on the
// calling goroutine, before the command starts. It must be fast and must
// not block or call the router. Default none.
func WithDecisionHook(f func(Decision)) RouterOption {
	return func(c *routerConfig) { c.onDecision = f }
}

// WithRouteChangeHook sets a function called when a key's route differs
// from its previous decision, on the deciding goroutine, after the losing
// pool was asked to drop the key's idle connection. Default none.
func WithRouteChangeHook(f func(server *Server, asRoot bool, from, to Route)) RouterOption {
	return func(c *routerConfig) { c.onChange = f }
}

// WithDrainOnChange sets whether a route change asks the pool that lost the
// key (when it is an IdleDropper) to drop the key's idle connection.
// Default true.
func WithDrainOnChange(drain bool) RouterOption {
	return func(c *routerConfig) { c.drain = drain }
}

// WithDecisionCache makes each connection reuse its last flag evaluation
// for up to ttl, until the flag provider reports a change (configuration
// changed, ready, error or stale events, which bump a generation). A flip
// then reaches new commands as soon as the provider's event is delivered
// rather than at the very next command; the decision costs a few atomics
// instead of two flag evaluations. Default 0: evaluate the flags for every
// command. Providers that emit no change events see changes after at most
// ttl.
func WithDecisionCache(ttl time.Duration) RouterOption {
	return func(c *routerConfig) { c.cacheTTL = ttl }
}

// errNoFlags is the evaluation error of a router built without a client.
var errNoFlags = errors.New("legacy: router has no flags client")

// Router serves the old API from the legacy pool or the new one (through
// the adapter), chosen per command by flags. It implements
// ConnectionProvider; install it with Install so that old call sites reach
// it through Provider.
type Router struct {
	providers [numRoutes]ConnectionProvider
	flags     openfeature.IClient
	cfg       routerConfig
	stats     routerStats
	routes    sync.Map // key string -> *atomic.Uint32: last route + 1
	servers   sync.Map // key string -> RoutedServer: servers GetOrCreateConnection served

	cacheTTL  atomic.Int64              // WithDecisionCache's ttl; 0 after Close
	gen       atomic.Uint64             // bumped by flag provider events
	onEvent   openfeature.EventCallback // registered with flags when caching
	eventOnce sync.Once
}

// cachedDecision is a routedConn's last evaluated decision.
type cachedDecision struct {
	gen uint64
	at  time.Time
	d   Decision
}

// providerEvents are the events that invalidate cached decisions.
var providerEvents = [...]openfeature.EventType{openfeature.ProviderConfigChange,
	openfeature.ProviderReady, openfeature.ProviderError, openfeature.ProviderStale}

// NewRouter returns a router between legacy (the rollback target) and next
// (normally the Adapter), deciding with flags. Any OpenFeature client
// works; the router evaluates FlagKillSwitch and FlagUseNewPool on every
// command. A nil flags routes everything to legacy (ReasonProviderNotReady).
func NewRouter(legacy, next ConnectionProvider, flags openfeature.IClient, opts ...RouterOption) *Router {
	cfg := routerConfig{drain: true}
	for _, opt := range opts {
		opt(&cfg)
	}
	r := &Router{providers: [numRoutes]ConnectionProvider{legacy, next}, flags: flags, cfg: cfg}
	r.cacheTTL.Store(int64(cfg.cacheTTL))
	if cfg.cacheTTL > 0 {
		bump := func(openfeature.EventDetails) { r.gen.Add(1) }
		r.onEvent = &bump
		for _, t := range providerEvents {
			flags.AddHandler(t, r.onEvent)
		}
	}
	return r
}

// Close removes the router's event handlers from the flags client (only
// registered with WithDecisionCache). The router keeps working, evaluating
// on every command. It is idempotent.
func (r *Router) Close() error {
	r.eventOnce.Do(func() {
		if r.onEvent == nil {
			return
		}
		for _, t := range providerEvents {
			r.flags.RemoveHandler(t, r.onEvent)
		}
		r.cacheTTL.Store(0)
	})
	return nil
}

// EvaluationContext returns the flag evaluation context for server and
// role: targeting key the server ID, attributes host, port, user, asRoot and
// serverName.
func EvaluationContext(server *Server, asRoot bool) openfeature.EvaluationContext {
	return openfeature.NewEvaluationContext(server.ID, map[string]any{
		"host": server.Host, "port": server.EffectivePort(), "user": server.User(asRoot),
		"asRoot": asRoot, "serverName": server.Name,
	})
}

// Decide evaluates the flags for server and role and returns the decision,
// counting it, reporting it to the hook and draining on a route change,
// exactly as a command does. A route change drains the losing pool
// synchronously, on the calling goroutine.
func (r *Router) Decide(ctx context.Context, server *Server, asRoot bool) Decision {
	return r.decide(ctx, server, asRoot, Key(server, asRoot), EvaluationContext(server, asRoot))
}

func (r *Router) decide(ctx context.Context, s *Server, asRoot bool, key string, ec openfeature.EvaluationContext) Decision {
	start := time.Now()
	d := r.evaluate(ctx, ec)
	return r.finish(d, start, s, asRoot, key)
}

// decideCached is decide for a connection: with WithDecisionCache it reuses
// the connection's last evaluation while no provider event has arrived and
// ttl has not passed.
func (r *Router) decideCached(ctx context.Context, c *routedConn) Decision {
	ttl := time.Duration(r.cacheTTL.Load())
	if ttl <= 0 {
		return r.decide(ctx, &c.server, c.asRoot, c.key, c.ec)
	}
	start := time.Now()
	gen := r.gen.Load()
	if cd := c.cache.Load(); cd != nil && cd.gen == gen && start.Sub(cd.at) < ttl {
		return r.finish(cd.d, start, &c.server, c.asRoot, c.key)
	}
	d := r.evaluate(ctx, c.ec)
	c.cache.Store(&cachedDecision{gen: gen, at: start, d: d})
	return r.finish(d, start, &c.server, c.asRoot, c.key)
}

// finish completes a decision: latency, counters, hook, route change.
func (r *Router) finish(d Decision, start time.Time, s *Server, asRoot bool, key string) Decision {
	d.Server, d.AsRoot = s, asRoot
	d.Latency = time.Since(start)
	r.stats.record(&d)
	if r.cfg.onDecision != nil {
		r.cfg.onDecision(d)
	}
	r.noteRoute(s, asRoot, key, d.Route)
	return d
}

// evaluate asks the kill switch, then use-new-pool. Any failure routes to
// legacy.
func (r *Router) evaluate(ctx context.Context, ec openfeature.EvaluationContext) Decision {
	if r.flags == nil {
		return Decision{Route: RouteLegacy, Reason: ReasonProviderNotReady, Flag: FlagKillSwitch, Err: errNoFlags}
	}
	kill, err := r.flags.BooleanValueDetails(ctx, FlagKillSwitch, false, ec)
	if d, failed := fallback(FlagKillSwitch, kill.ResolutionDetail, err); failed {
		return d
	}
	if kill.Value {
		return Decision{Route: RouteLegacy, Reason: ReasonKillSwitch, Flag: FlagKillSwitch, Variant: kill.Variant}
	}
	use, err := r.flags.BooleanValueDetails(ctx, FlagUseNewPool, false, ec)
	if d, failed := fallback(FlagUseNewPool, use.ResolutionDetail, err); failed {
		return d
	}
	if use.Value {
		return Decision{Route: RouteNew, Reason: ReasonFlagOn, Flag: FlagUseNewPool, Variant: use.Variant}
	}
	return Decision{Route: RouteLegacy, Reason: ReasonFlagOff, Flag: FlagUseNewPool, Variant: use.Variant}
}

// fallback turns an evaluation error into a legacy decision.
func fallback(flag string, rd openfeature.ResolutionDetail, err error) (Decision, bool) {
	if err == nil && rd.ErrorCode == "" {
		return Decision{}, false
	}
	if err == nil {
		err = errors.New(string(rd.ErrorCode) + ": " + rd.ErrorMessage)
	}
	d := Decision{Route: RouteLegacy, Reason: ReasonEvalError, Flag: flag, Variant: rd.Variant, Err: err}
	switch rd.ErrorCode {
	case openfeature.FlagNotFoundCode:
		d.Reason = ReasonFlagNotFound
	case openfeature.ProviderNotReadyCode, openfeature.ProviderFatalCode:
		d.Reason = ReasonProviderNotReady
	}
	return d, true
}

// noteRoute remembers key's route and, when it changed, drains the pool
// that lost the key and calls the change hook.
func (r *Router) noteRoute(s *Server, asRoot bool, key string, route Route) {
	v, ok := r.routes.Load(key)
	if !ok {
		v, _ = r.routes.LoadOrStore(key, new(atomic.Uint32))
	}
	prev := v.(*atomic.Uint32).Swap(uint32(route) + 1)
	if prev == 0 || Route(prev-1) == route {
		return
	}
	from := Route(prev - 1)
	r.stats.routeChanges.Add(1)
	if d, ok := r.providers[from].(IdleDropper); ok && r.cfg.drain {
		if d.RemoveIdleConnection(s, asRoot) {
			r.stats.drained.Add(1)
		}
	}
	if r.cfg.onChange != nil {
		r.cfg.onChange(s, asRoot, from, route)
	}
}

// Stats returns the decision counters.
func (r *Router) Stats() RouterStats { return r.stats.snapshot() }

// RoutedServer is a server and role the router has served.
type RoutedServer struct {
	Server Server
	AsRoot bool
}

// Servers returns the servers and roles GetOrCreateConnection has served,
// sorted by key (one entry per key, the latest Server seen for it), for
// views of the routing such as an admin page. It holds no secret (Server
// holds none).
func (r *Router) Servers() []RoutedServer {
	var keys []string
	byKey := map[string]RoutedServer{}
	r.servers.Range(func(k, v any) bool {
		keys = append(keys, k.(string))
		byKey[k.(string)] = v.(RoutedServer)
		return true
	})
	sort.Strings(keys)
	out := make([]RoutedServer, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

// GetOrCreateConnection decides a route, gets that pool's connection (so an
// unreachable server fails here, as on the legacy pool) and returns a
// connection that decides again for every command.
func (r *Router) GetOrCreateConnection(server *Server, asRoot bool) (Connection, error) {
	if err := server.Validate(asRoot); err != nil {
		return nil, err
	}
	c := &routedConn{r: r, server: *server, asRoot: asRoot, key: Key(server, asRoot)}
	c.ec = EvaluationContext(&c.server, asRoot)
	r.servers.Store(c.key, RoutedServer{Server: c.server, AsRoot: asRoot})
	d := r.decide(context.Background(), &c.server, asRoot, c.key, c.ec)
	if _, err := c.conn(d.Route); err != nil {
		return nil, err
	}
	return c, nil
}

// routedConn is the router's Connection. Every command decides its route
// (so a flip affects commands that start after it) and runs on that pool's
// connection, got once per route and kept; a command in flight finishes
// on the pool it started on.
type routedConn struct {
	r      *Router
	server Server
	asRoot bool
	key    string
	ec     openfeature.EvaluationContext
	closed atomic.Bool
	cache  atomic.Pointer[cachedDecision]

	// mu guards conns. It is held across the provider's
	// GetOrCreateConnection, so a routed connection gets each route's
	// connection once even when commands on it run concurrently.
	mu    sync.Mutex
	conns [numRoutes]Connection
}

// maxClosedRetries bounds how often a command is re-routed after finding
// its connection closed by a drain before it started.
const maxClosedRetries = 3

// conn returns the route's connection, getting one from its provider the
// first time and after a drain closed the previous one.
func (c *routedConn) conn(route Route) (Connection, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.conns[route]; cur != nil && !isClosed(cur) {
		return cur, nil
	}
	conn, err := getDirect(c.r.providers[route], &c.server, c.asRoot)
	if err != nil {
		return nil, err
	}
	c.conns[route] = conn
	return conn, nil
}

// forget drops conn from the route's slot if it is still there.
func (c *routedConn) forget(route Route, conn Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns[route] == conn {
		c.conns[route] = nil
	}
}

func isClosed(c Connection) bool {
	cl, ok := c.(interface{ Closed() bool })
	return ok && cl.Closed()
}

// run decides, gets the connection and calls fn on it, re-routing when the
// connection was closed (by a drain) before the command started.
func (c *routedConn) run(ctx context.Context, op, cmd string, fn func(Connection) error) error {
	if c.closed.Load() {
		return &CommandError{Op: op, Key: c.key, Cmd: cmd, Err: ErrConnectionClosed}
	}
	for attempt := 0; ; attempt++ {
		d := c.r.decideCached(ctx, c)
		conn, err := c.conn(d.Route)
		if err != nil {
			return err
		}
		err = fn(conn)
		if attempt < maxClosedRetries && errors.Is(err, ErrConnectionClosed) && !c.closed.Load() {
			c.forget(d.Route, conn)
			continue
		}
		return err
	}
}

// ExecuteCommand routes and runs cmd, returning its combined output. The
// chosen pool's own timeouts apply.
func (c *routedConn) ExecuteCommand(cmd string) (string, error) {
	var out string
	err := c.run(context.Background(), OpExec, cmd, func(conn Connection) (err error) {
		out, err = conn.ExecuteCommand(cmd)
		return err
	})
	return out, err
}

// ExecuteCommandContext is ExecuteCommand bounded by ctx.
func (c *routedConn) ExecuteCommandContext(ctx context.Context, cmd string) (string, error) {
	var out string
	err := c.run(ctx, OpExec, cmd, func(conn Connection) (err error) {
		if cc, ok := conn.(ContextConnection); ok {
			out, err = cc.ExecuteCommandContext(ctx, cmd)
		} else {
			out, err = conn.ExecuteCommand(cmd)
		}
		return err
	})
	return out, err
}

// ExecuteCommandStream routes and streams cmd's output lines to out; it
// does not close out.
func (c *routedConn) ExecuteCommandStream(cmd string, out chan<- string) error {
	return c.run(context.Background(), OpStream, cmd, func(conn Connection) error {
		return conn.ExecuteCommandStream(cmd, out)
	})
}

// ExecuteCommandStreamContext is ExecuteCommandStream bounded by ctx.
func (c *routedConn) ExecuteCommandStreamContext(ctx context.Context, cmd string, out chan<- string) error {
	return c.run(ctx, OpStream, cmd, func(conn Connection) error {
		if cc, ok := conn.(ContextConnection); ok {
			return cc.ExecuteCommandStreamContext(ctx, cmd, out)
		}
		return conn.ExecuteCommandStream(cmd, out)
	})
}

// IsHealthy reports whether the connection of the route a command would
// take now is healthy.
func (c *routedConn) IsHealthy() bool {
	if c.closed.Load() {
		return false
	}
	d := c.r.decideCached(context.Background(), c)
	conn, err := c.conn(d.Route)
	return err == nil && conn.IsHealthy()
}

// TestHealth routes and runs the health check.
func (c *routedConn) TestHealth() error {
	return c.run(context.Background(), OpHealth, "", func(conn Connection) error {
		return conn.TestHealth()
	})
}

// Close marks the connection closed; the pools' connections stay open for
// other callers (closing the legacy one would cut every holder of the key).
// It is idempotent.
func (c *routedConn) Close() error {
	c.closed.Store(true)
	return nil
}

// Closed reports whether Close was called.
func (c *routedConn) Closed() bool { return c.closed.Load() }

// GetConnectionStatus merges the status of both pools (those that are
// StatusReporters). A key both report is shown as the one used last.
func (r *Router) GetConnectionStatus() map[string]ConnectionStatus {
	out := map[string]ConnectionStatus{}
	for _, p := range r.providers {
		sr, ok := p.(StatusReporter)
		if !ok {
			continue
		}
		for k, st := range sr.GetConnectionStatus() {
			if cur, ok := out[k]; !ok || st.LastUsed.After(cur.LastUsed) {
				out[k] = st
			}
		}
	}
	return out
}

// CleanupStaleConnections runs the stale cleanup of both pools (those that
// are StaleCleaners) and returns the total removed.
func (r *Router) CleanupStaleConnections(maxAge time.Duration) int {
	n := 0
	for _, p := range r.providers {
		if sc, ok := p.(StaleCleaner); ok {
			n += sc.CleanupStaleConnections(maxAge)
		}
	}
	return n
}

// getDirect gets a connection from p without the singleton's redirect to
// the installed provider: the router may be that provider, and its legacy
// route may be the singleton.
func getDirect(p ConnectionProvider, server *Server, asRoot bool) (Connection, error) {
	if lp, ok := p.(*ConnectionPool); ok {
		return lp.getOrCreateDirect(server, asRoot)
	}
	return p.GetOrCreateConnection(server, asRoot)
}
