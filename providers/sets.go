package providers

import (
	"github.com/google/wire"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// Migration is the whole migration layer as the injector builds it: both
// pools, the adapter, the router, the flags and the registry. Package app
// turns it into an fx lifecycle.
type Migration struct {
	// Pool is the new pool.
	Pool pool.Pool
	// Legacy is the legacy pool, the rollback target.
	Legacy *legacy.ConnectionPool
	// Adapter serves the old API from Pool.
	Adapter *legacy.Adapter
	// Router picks Legacy or Adapter per call.
	Router *legacy.Router
	// Flags owns the isolated OpenFeature API; API and Client are its parts.
	Flags  *featureflags.Flags
	API    *openfeature.EvaluationAPI
	Client openfeature.IClient
	// FlagProvider is the provider set on API (a *featureflags.FileProvider
	// when a flag file is configured).
	FlagProvider openfeature.FeatureProvider
	// FlagMetrics counts flag evaluations.
	FlagMetrics *featureflags.MetricsHook
	// Registry holds the dial targets (configured ones and those the
	// registrar adds for legacy servers).
	Registry *sshconn.Registry
	// Config is the pool configuration with defaults applied.
	Config pool.PoolConfig
}

// MigrationSet provides Migration from its fields.
var MigrationSet = wire.NewSet(wire.Struct(new(Migration), "*"))

// PoolOnlySet is everything the new pool alone needs.
var PoolOnlySet = wire.NewSet(ConfigSet, TracerSet, FactorySet, HealthSet, PoolSet)

// FullSet is every component of the migration layer.
var FullSet = wire.NewSet(
	PoolOnlySet,
	LegacyPoolSet,
	AdapterSet,
	RouterSet,
	FlagsSet,
	MigrationSet,
)
