// Package providers holds the Wire provider sets that assemble sshpool's
// component graph: one small set per component (config, tracer, factory,
// health monitor, pool, legacy pool, adapter, router, flags) and FullSet,
// which the injectors at the module root (wire.go) build from.
//
// Every provider is a plain constructor: it takes its dependencies as
// arguments, does no network I/O and starts no goroutine. The one exception
// to "no I/O" is NewFlagProvider, which reads and validates the flag file once
// (featureflags.NewFileProvider does), so that a broken flag file fails the
// build of the graph instead of the first call; it still starts no goroutine
// (watching starts when the provider is set on the OpenFeature API).
//
// Providers of resources return (T, func(), error); the cleanup closes what
// the constructor made (pool Close, legacy pool Stop, router Close, flags
// Shutdown). Lifetimes proper (warm-up, health loops, the compatibility seam,
// the admin server) belong to package app, which runs them as fx hooks.
package providers
