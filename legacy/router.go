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

	"github.com/sshpool/sshpool/featureflags"
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
	// Latency is how long the decision's flag evaluations took; 0 for a
	// decision reused from the decision cache or from
	// GetOrCreateConnection's, which evaluates nothing.
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

// WithDecisionCache makes the router reuse a key's last flag evaluation
// for up to ttl, until the flag provider reports a change (configuration
// changed, ready, error or stale events, which invalidate every cached
// decision at once). Decisions are cached per key, that is per server and
// role, so every call for the server reuses them, whichever connection
// value it goes through. A flip then reaches new commands as soon as the
// provider's event is delivered rather than at the very next command; a
// decision costs a few atomics instead of two flag evaluations. Default 0:
// evaluate the flags for every command. Providers that emit no change
// events see changes after at most ttl.
func WithDecisionCache(ttl time.Duration) RouterOption {
	return func(c *routerConfig) { c.cacheTTL = ttl }
}

// errNoFlags is the evaluation error of a router built without a client.
var errNoFlags = errors.New("legacy: router has no flags client")

// Router serves the old API from the legacy pool or the new one (through
// the adapter), chosen per command by flags. It implements
// ConnectionProvider and the optional provider interfaces; install it with
// Install so that old call sites (GetConnectionPool, GetConnectionManager)
// reach it.
type Router struct {
	providers [numRoutes]ConnectionProvider
	flags     openfeature.IClient
	cfg       routerConfig
	stats     routerStats
	keys      sync.Map // key string -> *routeKey

	cacheTTL  atomic.Int64              // WithDecisionCache's ttl; 0 after Close
	gen       atomic.Uint64             // bumped by flag provider events
	onEvent   openfeature.EventCallback // registered with flags when caching
	eventOnce sync.Once
}

// routeKey is what the router keeps per key: the last route, the cached
// decision, and the connection it hands out. Every field is atomic.
type routeKey struct {
	route atomic.Uint32 // last route + 1; 0 before the first decision
	cache atomic.Pointer[cachedDecision]
	conn  atomic.Pointer[PooledConnection]
	used  atomic.Int64 // UnixNano of the last decision
	// dropped is set once the router forgot the key (stale cleanup,
	// RemoveConnection): routed connections that kept this routeKey look
	// the key up again.
	dropped atomic.Bool
}

// cachedDecision is an evaluated decision and what it was evaluated for:
// the provider generation, the time, and the evaluation context's fields
// that the key does not determine.
type cachedDecision struct {
	gen        uint64
	at         time.Time
	name, user string
	d          Decision
}

// validFor reports whether cd may stand for a decision for c at now.
func (cd *cachedDecision) validFor(c *routedConn, gen uint64, now time.Time, ttl time.Duration) bool {
	return cd != nil && cd.gen == gen && now.Sub(cd.at) < ttl && cd.name == c.server.Name && cd.user == c.user
}

// handoffMaxAge bounds how long after GetOrCreateConnection its decision
// may stand for the connection's first command, without a decision cache:
// the two calls of one old-style call, not a connection kept for later.
const handoffMaxAge = 100 * time.Millisecond

// providerEvents are the events that invalidate cached decisions.
var providerEvents = [...]openfeature.EventType{openfeature.ProviderConfigChange,
	openfeature.ProviderReady, openfeature.ProviderError, openfeature.ProviderStale}

// NewRouter returns a router between legacy (the rollback target) and next
// (normally the Adapter), deciding with flags. Any OpenFeature client
// works; the router evaluates featureflags.FlagKillSwitch and
// featureflags.FlagUseNewPool. A nil flags routes everything to legacy
// (ReasonProviderNotReady), with or without a decision cache.
func NewRouter(legacy, next ConnectionProvider, flags openfeature.IClient, opts ...RouterOption) *Router {
	cfg := routerConfig{drain: true}
	for _, opt := range opts {
		opt(&cfg)
	}
	r := &Router{providers: [numRoutes]ConnectionProvider{legacy, next}, flags: flags, cfg: cfg}
	r.cacheTTL.Store(int64(cfg.cacheTTL))
	if flags != nil {
		bump := func(openfeature.EventDetails) { r.gen.Add(1) }
		r.onEvent = &bump
		for _, t := range providerEvents {
			flags.AddHandler(t, r.onEvent)
		}
	}
	return r
}

// Close removes the router's event handlers from the flags client. The
// router keeps working, evaluating on every command. It is idempotent.
func (r *Router) Close() error {
	r.eventOnce.Do(func() {
		r.cacheTTL.Store(0)
		if r.onEvent == nil {
			return
		}
		for _, t := range providerEvents {
			r.flags.RemoveHandler(t, r.onEvent)
		}
	})
	return nil
}

// EvaluationContext returns the flag evaluation context for server and
// role (featureflags.ServerContext): targeting key the server ID,
// attributes host, port, user, asRoot and serverName.
func EvaluationContext(server *Server, asRoot bool) openfeature.EvaluationContext {
	return featureflags.ServerContext(server.ID, server.Host, server.EffectivePort(), server.User(asRoot),
		asRoot, server.Name)
}

// routeKey returns key's state, creating it.
func (r *Router) routeKey(key string) *routeKey {
	if v, ok := r.keys.Load(key); ok {
		return v.(*routeKey)
	}
	v, _ := r.keys.LoadOrStore(key, new(routeKey))
	return v.(*routeKey)
}

// Decide evaluates the flags for server and role and returns the decision,
// uncached, counting it, reporting it to the hook and draining on a route
// change, exactly as a command does. A route change drains the losing pool
// synchronously, on the calling goroutine.
func (r *Router) Decide(ctx context.Context, server *Server, asRoot bool) Decision {
	start := time.Now()
	d := r.evaluate(ctx, EvaluationContext(server, asRoot))
	d.Latency = time.Since(start)
	return r.finish(d, start, server, asRoot, r.routeKey(Key(server, asRoot)))
}

// decideFor is a decision for a command on c: with WithDecisionCache, the
// key's cached decision while no provider event has arrived and ttl has
// not passed; without it, the decision GetOrCreateConnection took for c if
// no provider event arrived since (one old-style call, one evaluation);
// else a new evaluation. With handoff set (GetOrCreateConnection, no
// cache), a new evaluation is also left on c for its first command.
func (r *Router) decideFor(ctx context.Context, c *routedConn, handoff bool) Decision {
	start := time.Now()
	gen := r.gen.Load()
	rk := c.routeKey()
	ttl := time.Duration(r.cacheTTL.Load())
	if ttl > 0 {
		if cd := rk.cache.Load(); cd.validFor(c, gen, start, ttl) {
			return r.finish(cd.d, start, &c.server, c.asRoot, rk)
		}
	} else if h, ok := c.handoff.take(); ok && h.validFor(c, gen, start, handoffMaxAge) {
		return r.finish(h.d, start, &c.server, c.asRoot, rk)
	}
	d := r.evaluate(ctx, c.ec)
	if ttl > 0 { // kept with Latency 0: reusing it evaluates nothing
		rk.cache.Store(&cachedDecision{gen: gen, at: start, name: c.server.Name, user: c.user, d: d})
	} else if handoff {
		c.handoff.put(cachedDecision{gen: gen, at: start, name: c.server.Name, user: c.user, d: d})
	}
	d.Latency = time.Since(start)
	return r.finish(d, start, &c.server, c.asRoot, rk)
}

// finish completes a decision made or reused at start: counters, hook,
// route change. d.Latency is the evaluation's, 0 for a reused decision.
func (r *Router) finish(d Decision, start time.Time, s *Server, asRoot bool, rk *routeKey) Decision {
	d.Server, d.AsRoot = s, asRoot
	r.stats.record(&d)
	if r.cfg.onDecision != nil {
		r.cfg.onDecision(d)
	}
	rk.used.Store(start.UnixNano())
	r.noteRoute(s, asRoot, rk, d.Route)
	return d
}

// evaluate asks the kill switch, then use-new-pool, both with ec (a
// targeted kill switch applies to the servers it targets). Any failure
// routes to legacy. It is the one routing decision: Decide, commands and
// package routes all come here.
func (r *Router) evaluate(ctx context.Context, ec openfeature.EvaluationContext) Decision {
	if r.flags == nil {
		return Decision{Route: RouteLegacy, Reason: ReasonProviderNotReady, Flag: featureflags.FlagKillSwitch, Err: errNoFlags}
	}
	kill, err := r.flags.BooleanValueDetails(ctx, featureflags.FlagKillSwitch, false, ec)
	if d, failed := fallback(featureflags.FlagKillSwitch, kill.ResolutionDetail, err); failed {
		return d
	}
	if kill.Value {
		return Decision{Route: RouteLegacy, Reason: ReasonKillSwitch, Flag: featureflags.FlagKillSwitch, Variant: kill.Variant}
	}
	use, err := r.flags.BooleanValueDetails(ctx, featureflags.FlagUseNewPool, false, ec)
	if d, failed := fallback(featureflags.FlagUseNewPool, use.ResolutionDetail, err); failed {
		return d
	}
	if use.Value {
		return Decision{Route: RouteNew, Reason: ReasonFlagOn, Flag: featureflags.FlagUseNewPool, Variant: use.Variant}
	}
	return Decision{Route: RouteLegacy, Reason: ReasonFlagOff, Flag: featureflags.FlagUseNewPool, Variant: use.Variant}
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

// noteRoute remembers the key's route and, when it changed, drains the
// pool that lost the key and calls the change hook.
func (r *Router) noteRoute(s *Server, asRoot bool, rk *routeKey, route Route) {
	if rk.route.Load() == uint32(route)+1 {
		return // unchanged: no write, so commands deciding for the key at once do not contend for the word
	}
	prev := rk.route.Swap(uint32(route) + 1)
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

// Servers returns the servers and roles GetOrCreateConnection has served
// (and CleanupStaleConnections has not forgotten), sorted by key, one entry
// per key with the latest Server seen for it, for views of the routing
// such as an admin page. It holds no secret (Server holds none).
func (r *Router) Servers() []RoutedServer {
	var keys []string
	byKey := map[string]RoutedServer{}
	r.keys.Range(func(k, v any) bool {
		if pc := v.(*routeKey).conn.Load(); pc != nil {
			keys = append(keys, k.(string))
			byKey[k.(string)] = RoutedServer{Server: pc.server, AsRoot: pc.asRoot}
		}
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
// unreachable server fails here, as on the legacy pool) and returns the
// key's routed connection, whose every command decides again (reusing this
// decision for its first command, or the cache, as decideFor says). Every
// caller for the same (server, user) gets the same *PooledConnection until
// it is closed.
func (r *Router) GetOrCreateConnection(server *Server, asRoot bool) (*PooledConnection, error) {
	if err := server.Validate(asRoot); err != nil {
		return nil, err
	}
	pc, c := r.connFor(server, asRoot)
	d := r.decideFor(context.Background(), c, true)
	conn, found, err := c.conn(d.Route)
	if err != nil {
		return nil, err
	}
	if found {
		conn.UpdateLastUsed()
	}
	return pc, nil
}

// connFor returns the key's routed connection, making a new one when there
// is none, it was closed or the server's settings changed.
func (r *Router) connFor(server *Server, asRoot bool) (*PooledConnection, *routedConn) {
	key := Key(server, asRoot)
	rk := r.routeKey(key)
	for {
		cur := rk.conn.Load()
		if cur != nil && !cur.Closed() && sameServer(&cur.server, server) {
			return cur, cur.b.(*routedConn)
		}
		c := &routedConn{r: r, key: key, server: *server, user: server.User(asRoot), asRoot: asRoot}
		c.ec = EvaluationContext(&c.server, asRoot)
		c.rk.Store(rk)
		pc := newPooledConnection(key, server, asRoot, c)
		if rk.conn.CompareAndSwap(cur, pc) {
			return pc, c
		}
	}
}

// GetConnectionStatus merges the status of both pools (those that are
// StatusReporters), under the old keys; ConnectionHealthStatus.Pool tells
// them apart. A key both report is shown as the one used last.
func (r *Router) GetConnectionStatus() map[string]ConnectionHealthStatus {
	out := map[string]ConnectionHealthStatus{}
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
// are StaleCleaners), forgets the routing state of keys not decided for
// maxAge, and returns the number of connections removed.
func (r *Router) CleanupStaleConnections(maxAge time.Duration) int {
	n := 0
	for _, p := range r.providers {
		if sc, ok := p.(StaleCleaner); ok {
			n += sc.CleanupStaleConnections(maxAge)
		}
	}
	cutoff := time.Now().Add(-maxAge).UnixNano()
	r.keys.Range(func(k, v any) bool {
		if rk := v.(*routeKey); rk.used.Load() < cutoff && r.keys.CompareAndDelete(k, v) {
			rk.dropped.Store(true)
		}
		return true
	})
	return n
}

// RemoveConnection removes key's connections from both pools (those that
// are Removers) and forgets its routing state. Holders of the key's routed
// connection carry on: their next command gets new connections.
func (r *Router) RemoveConnection(key string) {
	if v, ok := r.keys.LoadAndDelete(key); ok {
		v.(*routeKey).dropped.Store(true)
	}
	for _, p := range r.providers {
		if rm, ok := p.(Remover); ok {
			rm.RemoveConnection(key)
		}
	}
}

// Stop stops both pools (those that are Stoppers) together, each within
// its own drain timeout: this is what the old API's Stop on the singleton
// does while the router is installed.
func (r *Router) Stop() {
	r.stopAll(func(s Stopper) error { s.Stop(); return nil })
}

// StopContext stops both pools (those that are Stoppers) together, so
// that both refuse new calls at once, with their drains bounded by ctx,
// and returns their *DrainErrors joined.
func (r *Router) StopContext(ctx context.Context) error {
	return r.stopAll(func(s Stopper) error { return s.StopContext(ctx) })
}

// stopAll calls stop on every provider that is a Stopper, concurrently.
func (r *Router) stopAll(stop func(Stopper) error) error {
	var (
		wg   sync.WaitGroup
		errs [numRoutes]error
	)
	for i, p := range r.providers {
		if s, ok := p.(Stopper); ok {
			wg.Go(func() { errs[i] = stop(s) })
		}
	}
	wg.Wait()
	return errors.Join(errs[:]...)
}

// getDirect gets a connection from p without the singleton's redirect to
// the installed provider: the router may be that provider, and its legacy
// route may be the singleton.
func getDirect(p ConnectionProvider, server *Server, asRoot bool) (*PooledConnection, error) {
	if lp, ok := p.(*ConnectionPool); ok {
		return lp.getDirect(server, asRoot)
	}
	return p.GetOrCreateConnection(server, asRoot)
}
