package providers

import (
	"log/slog"

	"github.com/google/wire"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// LegacyPoolSet provides the legacy pool (the rollback target).
var LegacyPoolSet = wire.NewSet(NewLegacyPool)

// NewLegacyPool returns a legacy pool dialling through factory with targets
// registered by reg, with cfg's timeouts and loops (legacyOptions). Its
// loops start on first use or Start; the cleanup stops it (idempotent).
func NewLegacyPool(factory pool.ConnectionFactory, reg legacy.TargetRegistrar,
	cfg LegacyConfig, logger *slog.Logger) (*legacy.ConnectionPool, func(), error) {
	opts := append(legacyOptions(cfg, logger), legacy.WithFactory(factory), legacy.WithRegistrar(reg))
	lp := legacy.NewConnectionPool(opts...)
	return lp, lp.Stop, nil
}

// legacyOptions turns cfg into the options of the legacy pool and the
// adapter. Both get the same command, dial and drain timeouts, so a call
// through the old API has the same deadlines whichever pool serves it.
func legacyOptions(cfg LegacyConfig, logger *slog.Logger) []legacy.Option {
	opts := []legacy.Option{
		legacy.WithCommandTimeout(cfg.CommandTimeout), legacy.WithDialTimeout(cfg.DialTimeout),
		legacy.WithDrainTimeout(cfg.DrainTimeout),
	}
	if cfg.HealthInterval != 0 {
		opts = append(opts, legacy.WithHealthInterval(cfg.HealthInterval))
	}
	if cfg.StaleInterval != 0 || cfg.StaleMaxAge != 0 {
		opts = append(opts, legacy.WithStaleSweep(cfg.StaleInterval, cfg.StaleMaxAge))
	}
	if logger != nil {
		opts = append(opts, legacy.WithLogger(logger))
	}
	return opts
}

// AdapterSet provides the adapter that serves the old API from the new pool.
var AdapterSet = wire.NewSet(NewAdapter)

// NewAdapter returns an adapter over p registering targets with reg, with
// the legacy pool's timeouts (legacyOptions). When the router moves a key's
// traffic to legacy, the adapter drops p's idle connections for the key
// (pool.Pool.DropIdle) instead of leaving them to MaxIdleTime;
// RouterConfig.KeepIdleOnChange turns the router's drain off.
func NewAdapter(p pool.Pool, reg legacy.TargetRegistrar, cfg LegacyConfig, logger *slog.Logger) *legacy.Adapter {
	opts := append(legacyOptions(cfg, logger), legacy.WithIdleDropper(func(k string) bool { return p.DropIdle(k) > 0 }))
	return legacy.NewAdapter(p, reg, opts...)
}

// RouterSet provides the migration router.
var RouterSet = wire.NewSet(NewRouter)

// NewRouter returns the router between lp (rollback target) and a (the new
// pool), deciding with flags. With a logger, every route change of a key is
// logged at info level as "router route change" (server ID, role, from, to;
// no credentials). obs.DecisionHook, when set, sees every decision. The
// cleanup removes its event handlers.
func NewRouter(lp *legacy.ConnectionPool, a *legacy.Adapter, flags openfeature.IClient,
	cfg RouterConfig, logger *slog.Logger, obs Observers) (*legacy.Router, func(), error) {
	opts := []legacy.RouterOption{legacy.WithDrainOnChange(!cfg.KeepIdleOnChange)}
	if obs.DecisionHook != nil {
		opts = append(opts, legacy.WithDecisionHook(obs.DecisionHook))
	}
	if cfg.DecisionCache > 0 {
		opts = append(opts, legacy.WithDecisionCache(cfg.DecisionCache))
	}
	if logger != nil {
		opts = append(opts, legacy.WithRouteChangeHook(func(s *legacy.Server, asRoot bool, from, to legacy.Route) {
			logger.Info("router route change", "server", s.ID, "as_root", asRoot,
				"from", from.String(), "to", to.String())
		}))
	}
	r := legacy.NewRouter(lp, a, flags, opts...)
	return r, func() { r.Close() }, nil
}
