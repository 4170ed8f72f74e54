package faulttest_test

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/fault/faultproxy"
	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// hangGuard bounds every wait in these tests. It is generous on purpose:
// it only turns a hang into a failure, it is not a performance bound.
const hangGuard = 15 * time.Second

// Health settings for the scenarios: a dead or half-open connection should
// be noticed within healthInterval+healthTimeout.
const (
	healthInterval = 300 * time.Millisecond
	healthTimeout  = 200 * time.Millisecond
)

// legacyTicker is the old singleton pool's health period, the figure the
// measured detection times are compared with.
const legacyTicker = 30 * time.Second

// key is the pool key every scenario uses.
const key = "target"

// server names the two servers a scenario runs against.
type server string

const (
	serverSSHD    server = "sshd"
	serverSSHTest server = "sshtest"
)

var servers = []server{serverSSHD, serverSSHTest}

// forEachServer runs fn as subtests server=sshd and server=sshtest.
func forEachServer(t *testing.T, fn func(t *testing.T, kind server)) {
	t.Helper()
	for _, kind := range servers {
		t.Run("server="+string(kind), func(t *testing.T) { fn(t, kind) })
	}
}

// envOptions configures newEnv.
type envOptions struct {
	maxSessions int    // the server's MaxSessions; 0 means its default
	key         string // the key to register; "" means key
}

// env is one server behind a fault proxy, a sshconn factory that dials the
// proxy and counts dial attempts, and a tracer that records what the pool
// does.
type env struct {
	kind  server
	proxy *faultproxy.Proxy
	sshd  *sshdtest.Server // nil unless kind is sshd
	sst   *sshtest.Server  // nil unless kind is sshtest
	reg   *sshconn.Registry
	key   string // the key registered for the server
	rec   *recorder

	target   sshconn.Target // the target registered for key (through the proxy)
	upstream string         // the server's own address
	other    string         // a server with another host key (changeHostKey), or ""
	close    []func()       // closes other (the soak closes everything before its leak check)
	authKeys []byte         // sshd's authorized keys before revokeAuth
	khPath   string         // the target's known_hosts file
	khLine   []byte         // its content
	idPath   string         // the target's identity file
	idPEM    []byte         // its content: the client key

	attempts    atomic.Int64 // dial attempts (every try, retries included)
	attemptErrs atomic.Int64 // failed dial attempts
}

// newEnv starts the server, the proxy in front of it and registers key.
func newEnv(t testing.TB, kind server, o envOptions) *env {
	t.Helper()
	e := &env{kind: kind, reg: sshconn.NewRegistry(), rec: &recorder{}}
	var upstream, user string
	var keyPEM []byte
	var hostKey ssh.PublicKey
	switch kind {
	case serverSSHD:
		var opts []sshdtest.Option
		if o.maxSessions > 0 {
			opts = append(opts, sshdtest.WithMaxSessions(o.maxSessions))
		}
		e.sshd = sshdtest.Start(t, opts...)
		upstream, user, hostKey = e.sshd.Addr(), e.sshd.User(), e.sshd.HostPublicKey()
		var err error
		if keyPEM, err = os.ReadFile(e.sshd.ClientKeyPath()); err != nil {
			t.Fatal(err)
		}
	case serverSSHTest:
		var opts []sshtest.Option
		if o.maxSessions > 0 {
			opts = append(opts, sshtest.WithMaxSessions(o.maxSessions))
		}
		e.sst = sshtest.NewServer(t, opts...)
		upstream, user, keyPEM, hostKey = e.sst.Addr(), "alice", e.sst.ClientKeyPEM(), e.sst.HostKey()
	}
	e.proxy = faultproxy.Start(t, upstream)
	e.upstream = upstream
	e.key = o.key
	if e.key == "" {
		e.key = key
	}
	e.register(t, e.key, user, keyPEM, hostKey)
	return e
}

// register maps k to the server through the proxy, with a known_hosts file
// recording the server's host key under the proxy's address and an
// identity file holding the client key (keyPEM).
func (e *env) register(t testing.TB, k, user string, keyPEM []byte, hostKey ssh.PublicKey) {
	t.Helper()
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{e.proxy.Addr()}, hostKey)
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.khPath, e.khLine = kh, []byte(line+"\n")
	e.idPath, e.idPEM = filepath.Join(dir, "id_ed25519"), keyPEM
	if err := os.WriteFile(e.idPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	port := e.proxy.Addr()[strings.LastIndexByte(e.proxy.Addr(), ':')+1:]
	var p int
	if _, err := fmt.Sscan(port, &p); err != nil {
		t.Fatal(err)
	}
	e.target = sshconn.Target{Host: "127.0.0.1", Port: p, User: user,
		Auth:            sshconn.Auth{IdentityFiles: []string{e.idPath}},
		KnownHostsFiles: []string{kh}, DialTimeout: 3 * time.Second,
		KeepaliveTimeout: healthTimeout}
	e.reg.Register(k, e.target)
}

// changeHostKey makes the server answer with another host key, as a server
// reinstalled or restarted with new keys does: the proxy forwards new
// connections to a second server of the same kind (started on first use)
// and cuts the open ones. restoreHostKey undoes it.
func (e *env) changeHostKey(t testing.TB) {
	t.Helper()
	if e.other == "" {
		if e.sshd != nil {
			s := sshdtest.Start(t)
			e.other, e.close = s.Addr(), append(e.close, func() { _ = s.Close() })
		} else {
			s := sshtest.NewServer(t)
			e.other, e.close = s.Addr(), append(e.close, func() { _ = s.Close() })
		}
	}
	if err := e.proxy.SetUpstream(e.other); err != nil {
		t.Fatal(err)
	}
	if err := e.proxy.CutConnections(); err != nil {
		t.Fatal(err)
	}
}

// breakKnownHosts rewrites the client's known_hosts with another key for
// the server, as a stale or mistaken known_hosts would, and cuts the open
// connections: a change on the client's side. fixKnownHosts restores it.
func (e *env) breakKnownHosts(t testing.TB) {
	t.Helper()
	other, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	line := knownhosts.Line([]string{e.proxy.Addr()}, other.PublicKey())
	if err := os.WriteFile(e.khPath, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.proxy.CutConnections(); err != nil {
		t.Fatal(err)
	}
}

// replaceIdentity writes another private key into the client's identity
// file, as a key rotated on the client but not yet on the server would,
// and cuts the open connections. restoreIdentity writes the key back.
func (e *env) replaceIdentity(t testing.TB) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 1
	blk, err := ssh.MarshalPrivateKey(ed25519.NewKeyFromSeed(seed), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.idPath, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.proxy.CutConnections(); err != nil {
		t.Fatal(err)
	}
}

// restoreIdentity writes the client key back.
func (e *env) restoreIdentity(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(e.idPath, e.idPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fixKnownHosts writes the client's known_hosts back.
func (e *env) fixKnownHosts(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(e.khPath, e.khLine, 0o600); err != nil {
		t.Fatal(err)
	}
}

// restoreHostKey forwards new connections to the server again.
func (e *env) restoreHostKey(t testing.TB) {
	t.Helper()
	if err := e.proxy.SetUpstream(e.upstream); err != nil {
		t.Fatal(err)
	}
}

// stop takes the server down with every connection: sshd is SIGKILLed
// (with its children); sshtest drops every connection and refuses new
// ones. start brings it back on the same port with the same keys.
func (e *env) stop(t testing.TB) {
	t.Helper()
	if e.sshd != nil {
		if err := e.sshd.Stop(); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := e.sst.RefuseNew(true); err != nil {
		t.Fatal(err)
	}
	e.sst.DropAll()
}

// start restarts a server that stop took down.
func (e *env) start(t testing.TB) {
	t.Helper()
	var err error
	if e.sshd != nil {
		err = e.sshd.Restart()
	} else {
		err = e.sst.Restart()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// factory returns a sshconn factory over the env's registry that counts
// every dial attempt.
func (e *env) factory(opts ...sshconn.FactoryOption) *sshconn.Factory {
	hook := sshconn.WithAttemptHook(func(_ string, _ int, err error) {
		e.attempts.Add(1)
		if err != nil {
			e.attemptErrs.Add(1)
		}
	})
	base := []sshconn.FactoryOption{hook, sshconn.WithBackoff(20*time.Millisecond, 200*time.Millisecond)}
	return sshconn.NewFactory(e.reg, append(base, opts...)...)
}

// baseConfig is the pool configuration of the scenarios: short health
// settings, no idle closing, no lifetime.
func baseConfig() pool.PoolConfig {
	return pool.PoolConfig{
		MaxConnections:           8,
		MaxConnectionsPerKey:     2,
		MaxSessionsPerConnection: 4,
		DialTimeout:              3 * time.Second,
		HealthInterval:           healthInterval,
		HealthTimeout:            healthTimeout,
		CleanupInterval:          time.Second,
		LeakThreshold:            time.Minute,
		MaxRetries:               20,
		// The circuit breaker keeps its defaults (trials 200ms apart,
		// doubling to 1s): what the scenarios measure is what users get.
		Advanced: pool.AdvancedPoolConfig{RetryBackoff: 5 * time.Millisecond},
	}
}

// startPool builds a pool on e with cfg, starts its background loops and
// closes it when the test ends.
func (e *env) startPool(t testing.TB, cfg pool.PoolConfig) pool.Pool {
	t.Helper()
	p := pool.NewPool(e.factory(), cfg, e.rec.tracer())
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return p
}

// restart restarts the server on the same port after downtime, closing
// every connection it has: sshd is SIGKILLed (Stop) and started again;
// sshtest refuses new connections, drops the open ones and listens again.
func (e *env) restart(downtime time.Duration) error {
	if e.sshd != nil {
		if err := e.sshd.Stop(); err != nil {
			return err
		}
		time.Sleep(downtime)
		return e.sshd.Restart()
	}
	if err := e.sst.RefuseNew(true); err != nil {
		return err
	}
	e.sst.DropAll()
	time.Sleep(downtime)
	return e.sst.Restart()
}

// countedCommand returns a command for the env's server and a function
// reporting how many times the server has run it since: sshtest counts
// its execs; under sshd the command appends a line to a file.
func (e *env) countedCommand(t testing.TB) (string, func() int) {
	t.Helper()
	if e.sst != nil {
		before := e.sst.Stats().Execs
		return "true", func() int { return int(e.sst.Stats().Execs - before) }
	}
	f := filepath.Join(sharedTempDir(t), "ran")
	return "echo ran >> " + f, func() int {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "\n")
	}
}

// runningCommand returns a command that runs for d on the env's server
// and a function reporting how many such commands the server is running
// now, seen from the server: sshtest's open channels (a session whose
// channel is open is past the point where a lost connection means "not
// started"); under sshd the command itself appends to a file when it
// starts and to another when it ends.
func (e *env) runningCommand(t testing.TB, d time.Duration) (string, func() int) {
	t.Helper()
	secs := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	if e.sst != nil {
		return "sleep " + secs, func() int { return int(e.sst.Stats().ChannelsOpen) }
	}
	dir := sharedTempDir(t)
	started, ended := filepath.Join(dir, "started"), filepath.Join(dir, "ended")
	lines := func(f string) int {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "\n")
	}
	cmd := fmt.Sprintf("echo x >> %s; sleep %s; echo x >> %s", started, secs, ended)
	return cmd, func() int { return lines(started) - lines(ended) }
}

// sharedTempDir returns a temporary directory that the sshd login user
// may write to (it is not the test's user when the tests run as root),
// removed when the test ends.
func sharedTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sshpool-ran-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// revokeAuth makes every new authentication fail and drops the open
// connections: sshtest's FailAuth; for sshd the authorized keys file is
// emptied (sshd reads it at every authentication) and the proxy cuts every
// connection.
func (e *env) revokeAuth(t testing.TB) {
	t.Helper()
	if e.sst != nil {
		e.sst.FailAuth(true)
		e.sst.DropAll()
		return
	}
	path := authorizedKeysFile(t, e.sshd)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if e.authKeys == nil {
		e.authKeys = b
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.proxy.CutConnections(); err != nil {
		t.Fatal(err)
	}
}

// fixAuth undoes revokeAuth: authentication succeeds again.
func (e *env) fixAuth(t testing.TB) {
	t.Helper()
	if e.sst != nil {
		e.sst.FailAuth(false)
		return
	}
	if err := os.WriteFile(authorizedKeysFile(t, e.sshd), e.authKeys, 0o644); err != nil {
		t.Fatal(err)
	}
}

// authorizedKeysFile finds sshd's AuthorizedKeysFile in its config.
func authorizedKeysFile(t testing.TB, s *sshdtest.Server) string {
	t.Helper()
	cfg, err := os.ReadFile(s.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(cfg)) {
		f := strings.Fields(line)
		if len(f) == 2 && strings.EqualFold(f[0], "AuthorizedKeysFile") {
			p := strings.Trim(f[1], `"`)
			if !filepath.IsAbs(p) {
				p = filepath.Join(s.Dir(), p)
			}
			return p
		}
	}
	// sshdtest always writes the line: without it the auth-failure faults
	// could not be injected, which is a broken fixture, not a reason to
	// skip them.
	t.Fatalf("%s has no AuthorizedKeysFile line to revoke the key in", s.ConfigPath())
	return ""
}

// waitUntil polls cond every 10ms until it holds; it fails the test after
// hangGuard. It returns when cond first held.
func waitUntil(t testing.TB, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, hangGuard)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Now()
}

// runUntilOK runs cmd through p until it succeeds (each try bounded by
// 2s), pausing 20ms between failures; it fails the test after hangGuard.
// It returns when the first success ended and the errors seen before.
func runUntilOK(t testing.TB, p pool.Pool, cmd string) (time.Time, []error) {
	t.Helper()
	var errs []error
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := p.Run(ctx, key, cmd)
		cancel()
		if err == nil {
			return time.Now(), errs
		}
		errs = append(errs, err)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("Run %q did not succeed within %v; errors: %v", cmd, hangGuard, summarize(errs))
	return time.Time{}, nil
}

// kindOf names an error's category for the tallies: "circuit-open" for
// ErrCircuitOpen (a pool decision, not a server failure), else its
// failure.Classify kind.
func kindOf(err error) string {
	if errors.Is(err, pool.ErrCircuitOpen) {
		return "circuit-open"
	}
	return failure.Classify(err).String()
}

// summarize counts errs by kindOf, as "kind=n" sorted by kind.
func summarize(errs []error) string {
	m := map[string]int{}
	for _, err := range errs {
		m[kindOf(err)]++
	}
	return formatCounts(m)
}

// formatCounts renders m as "k1=n1 k2=n2", sorted by key.
func formatCounts[V int | int64](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// recorder keeps the events the scenarios assert on, through the pool
// hooks of its tracer method: state changes (with their time), health
// probes (with their duration) and health events.
type recorder struct {
	mu      sync.Mutex // guards changes, probes and events
	changes []stateChange
	probes  []probe
	events  []pool.HealthEvent
}

// tracer returns the hooks recording into r.
func (r *recorder) tracer() *pool.Tracer {
	return &pool.Tracer{StateChange: r.stateChange, HealthCheckEnd: r.healthCheckEnd, HealthEvent: r.healthEvent}
}

// healthEvent records the event.
func (r *recorder) healthEvent(ev pool.HealthEvent) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// eventCounts counts the health events by type.
func (r *recorder) eventCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for _, ev := range r.events {
		m[string(ev.Type)]++
	}
	return m
}

type stateChange struct {
	at   time.Time
	data pool.StateChangeData
}

type probe struct {
	at   time.Time
	data pool.HealthCheckData
}

// stateChange records the change.
func (r *recorder) stateChange(d pool.StateChangeData) {
	r.mu.Lock()
	r.changes = append(r.changes, stateChange{time.Now(), d})
	r.mu.Unlock()
}

// healthCheckEnd records the probe.
func (r *recorder) healthCheckEnd(_ context.Context, d pool.HealthCheckData) {
	r.mu.Lock()
	r.probes = append(r.probes, probe{time.Now(), d})
	r.mu.Unlock()
}

// unhealthySince returns when connection id (0: any) was first marked
// unhealthy at or after since, or false.
func (r *recorder) unhealthySince(since time.Time, id uint64) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.changes {
		if c.data.To == pool.StateUnhealthy && !c.at.Before(since) && (id == 0 || c.data.ConnID == id) {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// unhealthyMarks counts the connections marked unhealthy so far.
func (r *recorder) unhealthyMarks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.changes {
		if c.data.To == pool.StateUnhealthy {
			n++
		}
	}
	return n
}

// probesSince returns the health probes that ended at or after since.
func (r *recorder) probesSince(since time.Time) []pool.HealthCheckData {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []pool.HealthCheckData
	for _, p := range r.probes {
		if !p.at.Before(since) {
			out = append(out, p.data)
		}
	}
	return out
}

// connIDs returns the ids of the pool's open connections.
func connIDs(p pool.Pool) []uint64 {
	var ids []uint64
	for _, e := range p.Entries() {
		ids = append(ids, e.ID)
	}
	return ids
}

// warm leases and releases one connection, so the pool holds one idle
// connection, and returns its id.
func warm(t testing.TB, p pool.Pool) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if _, err := p.Run(ctx, key, "true"); err != nil {
		t.Fatalf("warm-up Run: %v", err)
	}
	ids := connIDs(p)
	if len(ids) != 1 {
		t.Fatalf("after warm-up: %d connections, want 1", len(ids))
	}
	return ids[0]
}

// firstEvent returns the time of the first health event of key k of one
// of types whose Time is in [from, to).
func (r *recorder) firstEvent(k string, from, to time.Time, types ...pool.HealthEventType) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first time.Time
	for _, ev := range r.events {
		if ev.Key != k || !slices.Contains(types, ev.Type) || ev.Time.Before(from) || !ev.Time.Before(to) {
			continue
		}
		if first.IsZero() || ev.Time.Before(first) {
			first = ev.Time
		}
	}
	return first, !first.IsZero()
}
