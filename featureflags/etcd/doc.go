// Package etcd keeps sshpool's flag document in etcd, so that one
// document routes every instance of a service: Source follows it for a
// featureflags.Provider, Publisher publishes it safely.
//
// It is a nested module (github.com/sshpool/sshpool/featureflags/etcd)
// so that the etcd client and gRPC reach only the programs that import
// it: importing pool, sshconn, legacy, featureflags or app does not
// build them.
//
// # The document
//
// The flag document (flagd's flag-definition format, JSON or YAML, as a
// flag file holds it) is the value of one key, DefaultKey unless
// configured. Its version is the key's etcd revision ("rev 42"): the
// revision at which it was written, which Publisher's history and rollback
// name.
//
// # Following it
//
// A Source is a featureflags.Source, so every document it delivers goes
// through the provider's one path (decode, validate, swap atomically, emit
// events) and a refused document keeps the flags in force, exactly as
// with a flag file.
//
//   - The provider reads the key at construction and when initialised
//     (linearizable reads, bounded by Config.RequestTimeout).
//   - Start runs one goroutine that reads the key and watches it from the
//     read's revision + 1, so no change between the read and the watch is
//     missed; each change is delivered as it arrives. The source never
//     delivers a document older than one it has delivered or read.
//   - When the watched revision has been compacted, the source reads the
//     key again at once and watches from there. When etcd cancels the
//     watch (a member that lost its leader, a read permission revoked),
//     the source reports itself not connected with etcd's reason, keeps
//     the flags in force, and reads the key again after the backoff below,
//     until it may: what was published meanwhile arrives by that read.
//   - When etcd is lost (every endpoint down or unreachable, which the
//     connection's state and keepalive tell within seconds), the flags in
//     force keep being served. The source reports itself not connected
//     (featureflags.SourceHealth: the provider's stats, PROVIDER_STALE,
//     the sshpool_flag_source_connected gauge and a detail on /readyz,
//     which stays ready: routing is right, only a change would not
//     arrive). It reconnects with exponential backoff and jitter between
//     Config.MinBackoff and Config.MaxBackoff, then reads the key again.
//   - A key with no document (never published, or deleted) keeps the flags
//     in force and is reported as ErrNoDocument, except at the start,
//     where there are none: see below.
//   - A refused password is not retried (it is logged; fix the credentials
//     and restart). Other failures are retried.
//
// # Starting while etcd is down, and the cache file
//
// A provider needs a document when it is built. When the key is empty, or
// etcd cannot be reached and there is no cache, the source gives a
// placeholder with no flags: the router then sends every call to the
// legacy pool, the safe side, until etcd delivers the document.
//
// Config.CacheFile (off by default) keeps the last document the source
// delivered and the provider accepted, written atomically after each
// change. An instance that starts while etcd is unreachable then serves
// that document (origin "etcd KEY (cache FILE)") and routes as the fleet
// last did, instead of everything to the legacy pool; when etcd answers,
// the live document replaces it. The cache is read bounded in size and
// time, and used only when it is for the same key, intact (its SHA-256)
// and valid.
//
// The choice is between two risks during an etcd outage at start-up:
// without the cache, an instance that should use the new pool uses the
// legacy one (safe, but the legacy pool must still carry that load); with
// it, an instance follows a document that may be older than the fleet's
// (for example if the kill switch was flipped on while this instance was
// down and etcd went down before it came back). Use the cache once the
// new pool carries most traffic and the legacy pool could not take it all
// at once; keep it off while the rollout is young.
//
// # Publishing
//
// Publisher writes documents with compare-and-swap: Push lints the
// document (featureflags.Lint; a document a provider would refuse is
// never published) and writes it only if the key is still at the revision
// it read (or the one the caller reviewed), else it fails with a
// *ConflictError. Every publish also records who, when, from which
// revision and why under Key + "/history/", in the same transaction, so
// History lists revisions with their author where sshpool published them
// (a document put by other tools shows an unknown author), and Rollback
// republishes an older revision's document, with the same
// compare-and-swap, even after etcd compacted it away. KillSwitch turns
// the kill-switch flag on or off in the current document.
//
// # Compatibility
//
// The client is go.etcd.io/etcd/client/v3 v3.7; the tests run it against
// Debian's etcd-server 3.4 (see package etcdtest), the oldest release
// still common in production. Only the v3 API is used: range, put,
// transactions with mod-revision comparisons, watches from a revision,
// and authentication.
package etcd
