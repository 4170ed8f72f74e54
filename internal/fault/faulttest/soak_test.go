package faulttest_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// Soak parameters: callers per server and pool, fault timing, and bounds.
const (
	soakCallersSSHTest = 160                    // new-pool callers against sshtest
	soakCallersSSHD    = 40                     // new-pool callers against sshd
	soakLegacyCallers  = 8                      // legacy-pool callers per server (one connection, below MaxSessions)
	soakProbeEvery     = 20 * time.Millisecond  // the pause between a probe caller\'s calls
	soakHold           = time.Second            // how long a held fault lasts
	soakCalm           = 300 * time.Millisecond // normal service between two faults
	soakCallTimeout    = 2 * time.Second
	soakMaxOpsPerCall  = 200_000 // per caller goroutine
)

// soakFault is one fault of the rotation. A held fault lasts soakHold and
// is then ended; the others happen at once (their "end" is the moment
// they were injected). Each is applied to both servers at the same time.
type soakFault struct {
	name   string
	held   bool
	inject func(b *soakBackend, t testing.TB) error
	end    func(b *soakBackend, t testing.TB) error // nil: heal the proxy
}

// soakFaults is the rotation: the faults of the chaos schedule (host key
// changed then restored, server stopped then started, killed and
// restarted, key revoked then restored, stall) and the network's (reset,
// latency, drop, host reboot).
var soakFaults = []soakFault{
	{name: "stall", held: true, inject: func(b *soakBackend, _ testing.TB) error {
		_, err := b.e.proxy.Stall(faultproxy.Both)
		return err
	}},
	{name: "restart", inject: func(b *soakBackend, _ testing.TB) error { // killed and started again
		if b.e.sshd != nil {
			return b.e.sshd.Restart()
		}
		return b.e.sst.Restart()
	}},
	{name: "host-key", held: true, inject: func(b *soakBackend, t testing.TB) error {
		b.e.changeHostKey(t)
		return nil
	}, end: func(b *soakBackend, t testing.TB) error {
		b.e.restoreHostKey(t)
		return nil
	}},
	{name: "reset", held: true, inject: func(b *soakBackend, _ testing.TB) error {
		_, err := b.e.proxy.ResetPeer(faultproxy.Both)
		return err
	}},
	{name: "outage", held: true, inject: func(b *soakBackend, t testing.TB) error {
		b.e.stop(t)
		return nil
	}, end: func(b *soakBackend, t testing.TB) error {
		b.e.start(t)
		return nil
	}},
	{name: "drop", inject: func(b *soakBackend, _ testing.TB) error {
		if b.e.sst != nil {
			b.e.sst.DropAll()
			return nil
		}
		return b.e.proxy.CutConnections()
	}},
	{name: "auth", held: true, inject: func(b *soakBackend, t testing.TB) error {
		b.e.revokeAuth(t)
		return nil
	}, end: func(b *soakBackend, t testing.TB) error {
		b.e.fixAuth(t)
		return nil
	}},
	{name: "reboot", inject: func(b *soakBackend, _ testing.TB) error { // connections die unseen
		b.e.proxy.ForgetConnections()
		return nil
	}},
	{name: "latency", held: true, inject: func(b *soakBackend, _ testing.TB) error {
		_, err := b.e.proxy.AddLatency(30*time.Millisecond, 10*time.Millisecond, faultproxy.Both)
		return err
	}},
}

// soakTracker follows one pool's callers against one server: their
// outcomes, and the recovery after each fault (the first call that started
// after the fault ended and succeeded).
type soakTracker struct {
	pool string // "new" or "legacy"

	ops, ok  atomic.Int64
	attempts atomic.Int64 // the factory's dial attempts for this pool's key
	since    atomic.Int64 // unix nanos: the end of the last fault (MaxInt64: not tracking)
	backAt   atomic.Int64 // unix nanos: the end of the first success started at or after since

	mu         sync.Mutex // guards the fields below
	errs       map[string]int64
	examples   map[string]string          // the first error of each kind
	recoveries map[string][]time.Duration // by fault
	hangs      map[string]int             // recoveries beyond recoveryHang, by fault
	during     map[string]int64           // dial attempts while the fault lasted, by fault
	took       []time.Duration            // durations of successful calls (the last soakTookKept)
	tookNext   int                        // the next slot of took to overwrite once full
}

// soakTookKept is how many successful call durations a tracker keeps: the
// calls' own duration under the soak's load, against which the recovery
// times are read.
const soakTookKept = 4096

func newSoakTracker(name string) *soakTracker {
	tr := &soakTracker{pool: name, errs: map[string]int64{}, examples: map[string]string{},
		recoveries: map[string][]time.Duration{}, hangs: map[string]int{}, during: map[string]int64{}}
	tr.since.Store(math.MaxInt64)
	return tr
}

// done records a call that started at start and ended now with err.
func (tr *soakTracker) done(start time.Time, err error) {
	tr.ops.Add(1)
	if err != nil {
		k := kindOf(err)
		tr.mu.Lock()
		tr.errs[k]++
		if _, ok := tr.examples[k]; !ok {
			tr.examples[k] = err.Error()
		}
		tr.mu.Unlock()
		return
	}
	tr.ok.Add(1)
	now := time.Now()
	if start.UnixNano() >= tr.since.Load() {
		tr.backAt.CompareAndSwap(0, now.UnixNano())
	}
	tr.mu.Lock()
	if len(tr.took) < soakTookKept {
		tr.took = append(tr.took, now.Sub(start))
	} else {
		tr.took[tr.tookNext] = now.Sub(start)
		tr.tookNext = (tr.tookNext + 1) % soakTookKept
	}
	tr.mu.Unlock()
}

// track starts waiting for the first success of a call started at or
// after te.
func (tr *soakTracker) track(te time.Time) {
	tr.since.Store(math.MaxInt64)
	tr.backAt.Store(0)
	tr.since.Store(te.UnixNano())
}

// settle records the recovery after fault (ended at te), or a hang when
// there was none by now; it reports whether the pool had recovered.
func (tr *soakTracker) settle(fault string, te time.Time) bool {
	back := tr.backAt.Load()
	tr.since.Store(math.MaxInt64)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if back == 0 {
		tr.hangs[fault]++
		return false
	}
	tr.recoveries[fault] = append(tr.recoveries[fault], time.Unix(0, back).Sub(te))
	return true
}

// soakBackend is one server of the soak, with trackers per pool and the
// legacy pool's view of the server. Besides the load (nw, lg), each pool
// has a probe caller on a key of its own for the same server (nwProbe,
// lgProbe): one call at a time, soakProbeEvery apart, never queued behind
// the load's calls, so its recovery is how soon the pool can serve the
// server again, apart from the queue the load builds (160 callers for 32
// sessions against sshtest).
type soakBackend struct {
	e                *env
	server, probeSrv *legacy.Server
	nw, lg           *soakTracker
	nwProbe, lgProbe *soakTracker
}

func (b *soakBackend) probeKey() string { return b.e.key + "-probe" }

func (b *soakBackend) trackers() []*soakTracker {
	return []*soakTracker{b.nw, b.lg, b.nwProbe, b.lgProbe}
}

// soakRegistrar registers the legacy pool's keys as the targets of their
// servers (through the proxies), as the wiring does with sshconn.
type soakRegistrar struct {
	reg     *sshconn.Registry
	targets map[string]sshconn.Target // by server ID
}

// RegisterServer implements legacy.TargetRegistrar.
func (r soakRegistrar) RegisterServer(key string, s *legacy.Server, _ bool) error {
	r.reg.Register(key, r.targets[s.ID])
	return nil
}

// soakRecord is one injected fault.
type soakRecord struct {
	fault  string
	at, to time.Time // injected, ended
}

// TestSoak runs hundreds of goroutines through the new pool, and a few
// through the legacy pool (plus a probe caller per pool and server, on a
// key of its own), against sshtest and a real sshd, each behind a
// fault proxy, while the faults of soakFaults are injected in turn: each
// held for a second (or happening at once), then ended, then the injector
// waits until both pools serve both servers again (recovery time after
// each fault, per pool: the goal is 1 s), and lets them run normally for
// soakCalm. It runs only when SSHPOOL_SOAK holds a duration. At the end it
// prints the totals and asserts that no recovery took longer than
// recoveryHang (a hang: the only timing the soak fails on), that no lease
// was lost, that both pools serve again after the last fault, and that
// closing them leaves no goroutine.
func TestSoak(t *testing.T) {
	v := os.Getenv("SSHPOOL_SOAK")
	if v == "" {
		t.Skip("soak test: set SSHPOOL_SOAK to a duration (e.g. SSHPOOL_SOAK=60s) to run it")
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur <= 0 {
		t.Fatalf("SSHPOOL_SOAK=%q: want a positive duration such as 60s", v)
	}

	backends := []*soakBackend{
		{e: newEnv(t, serverSSHTest, envOptions{key: "soak-sshtest"})},
		{e: newEnv(t, serverSSHD, envOptions{key: "soak-sshd"})},
	}
	callers := []int{soakCallersSSHTest, soakCallersSSHD}
	legacyReg := sshconn.NewRegistry()
	registrar := soakRegistrar{reg: legacyReg, targets: map[string]sshconn.Target{}}
	byKey := map[string]*soakTracker{} // read-only once the pools start
	for _, b := range backends {
		b.nw, b.lg = newSoakTracker("new"), newSoakTracker("legacy")
		b.nwProbe, b.lgProbe = newSoakTracker("new probe"), newSoakTracker("legacy probe")
		b.server = &legacy.Server{ID: "legacy-" + b.e.key, Host: b.e.target.Host, Port: b.e.target.Port,
			AppUsername: b.e.target.User}
		b.probeSrv = &legacy.Server{ID: "probe-" + b.e.key, Host: b.e.target.Host, Port: b.e.target.Port,
			AppUsername: b.e.target.User}
		registrar.targets[b.server.ID], registrar.targets[b.probeSrv.ID] = b.e.target, b.e.target
		b.e.reg.Register(b.probeKey(), b.e.target)
		byKey[b.e.key], byKey[legacy.Key(b.server, false)] = b.nw, b.lg
		byKey[b.probeKey()], byKey[legacy.Key(b.probeSrv, false)] = b.nwProbe, b.lgProbe
	}
	countAttempt := func(key string, _ int, _ error) {
		if tr := byKey[key]; tr != nil {
			tr.attempts.Add(1)
		}
	}
	rec := &recorder{}
	factory := sshconn.NewFactory(sshconn.Chain{backends[0].e.reg, backends[1].e.reg},
		sshconn.WithAttemptHook(countAttempt), sshconn.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	cfg := pool.PoolConfig{
		MaxConnections:           16,
		MaxConnectionsPerKey:     4,
		MaxSessionsPerConnection: 8,
		DialTimeout:              2 * time.Second,
		HealthInterval:           healthInterval,
		HealthTimeout:            healthTimeout,
		MaxIdleTime:              5 * time.Second,
		CleanupInterval:          time.Second,
		LeakThreshold:            10 * time.Second,
		MaxRetries:               5,
	}
	p := pool.NewPool(factory, cfg, rec.tracer())
	// The legacy pool keeps its own defaults, dial backoff included (50ms
	// doubling to 1s), as a rollback would run it.
	lp := legacy.NewConnectionPool(legacy.WithFactory(sshconn.NewFactory(legacyReg, sshconn.WithAttemptHook(countAttempt),
		sshconn.WithBackoff(20*time.Millisecond, 200*time.Millisecond))),
		legacy.WithRegistrar(registrar), legacy.WithDialTimeout(2*time.Second), legacy.WithCommandTimeout(soakCallTimeout))
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = p.Close()
			lp.Stop()
		}
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Peak goroutines and heap, sampled every 100ms.
	var peakG, peakHeap atomic.Uint64
	stopSampler := make(chan struct{})
	var samplerDone sync.WaitGroup
	samplerDone.Add(1)
	go func() {
		defer samplerDone.Done()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		var ms runtime.MemStats
		for {
			storeMax(&peakG, uint64(runtime.NumGoroutine()))
			runtime.ReadMemStats(&ms)
			storeMax(&peakHeap, ms.HeapAlloc)
			select {
			case <-stopSampler:
				return
			case <-tk.C:
			}
		}
	}()

	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for i, b := range backends {
		for g := range callers[i] {
			wg.Go(func() { soakCaller(p, b, g, deadline) })
		}
		for g := range soakLegacyCallers {
			wg.Go(func() { soakLegacyCaller(lp, b, g, deadline) })
		}
		wg.Go(func() {
			soakProbe(b.nwProbe, deadline, func(ctx context.Context) error {
				_, err := p.Run(ctx, b.probeKey(), "echo probe")
				return err
			})
		})
		wg.Go(func() {
			soakProbe(b.lgProbe, deadline, func(context.Context) error {
				c, err := lp.GetOrCreateConnection(b.probeSrv, false)
				if err == nil {
					_, err = c.ExecuteCommand("echo probe")
				}
				return err
			})
		})
	}

	// The injector: one fault at a time, each followed by the recovery of
	// both pools on both servers, until the duration is used up.
	var faults []soakRecord
	time.Sleep(soakCalm)
	for n := 0; time.Now().Add(soakHold + recoveryHang).Before(deadline); n++ {
		f := soakFaults[n%len(soakFaults)]
		faults = append(faults, runSoakFault(t, f, backends))
		time.Sleep(soakCalm)
	}

	// Every caller returns (each call is bounded).
	waitGroup(t, &wg, "soak callers")
	elapsed := time.Since(start)

	// Both pools serve again after the last fault, with no manual action.
	var serveAgain []string
	for _, b := range backends {
		at := runKeyUntilOK(t, p, b.e.key)
		took := time.Since(at).Round(time.Millisecond)
		at = legacyUntilOK(t, lp, b.server)
		serveAgain = append(serveAgain, fmt.Sprintf("%s new pool %v, legacy pool %v", b.e.kind, took,
			time.Since(at).Round(time.Millisecond)))
	}

	s := p.GetSnapshot()
	report := soakReport(backends, faults, rec, s, elapsed, peakG.Load(), peakHeap.Load()) +
		"\n  serve again after the soak: " + strings.Join(serveAgain, "; ")
	t.Log(report)
	fmt.Println(report)

	for _, b := range backends {
		for _, tr := range b.trackers() {
			for f, n := range tr.hangs {
				t.Errorf("%s pool on %s: %d recoveries after %s took longer than %v (a hang)", tr.pool, b.e.kind, n, f, recoveryHang)
			}
		}
	}
	if s.LeasesOutstanding != 0 || s.Gets != s.Releases {
		t.Errorf("lost leases: outstanding %d, gets %d, releases %d", s.LeasesOutstanding, s.Gets, s.Releases)
	}
	if leaks := p.Leases(0); len(leaks) != 0 {
		t.Errorf("leases still registered after every caller returned: %v", leaks)
	}

	// Close leaves no goroutine of the pools or their clients behind;
	// then, with the servers and proxies closed too, none at all.
	closed = true
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	lp.Stop()
	close(stopSampler)
	samplerDone.Wait()
	if stacks := poolGoroutines(); len(stacks) != 0 {
		t.Errorf("%d goroutines of the pools or sshconn survive Close:\n%s", len(stacks), strings.Join(stacks, "\n\n"))
	}
	for _, b := range backends {
		b.e.proxy.Close()
		for _, c := range b.e.close {
			c()
		}
		if b.e.sst != nil {
			_ = b.e.sst.Close()
		} else {
			_ = b.e.sshd.Close()
		}
	}
	goleak.VerifyNone(t)
}

// runSoakFault injects f on every backend, holds it, ends it, and waits
// until every pool served every backend again or recoveryHang passed,
// recording the recoveries and the dial attempts made while the fault
// lasted.
func runSoakFault(t *testing.T, f soakFault, backends []*soakBackend) soakRecord {
	t.Helper()
	r := soakRecord{fault: f.name, at: time.Now()}
	before := map[*soakTracker]int64{}
	for _, b := range backends {
		for _, tr := range b.trackers() {
			before[tr] = tr.attempts.Load()
		}
		if err := f.inject(b, t); err != nil {
			t.Errorf("inject %s on %s: %v", f.name, b.e.kind, err)
		}
	}
	if f.held {
		time.Sleep(soakHold)
		for _, b := range backends {
			end := f.end
			if end == nil {
				end = func(b *soakBackend, _ testing.TB) error { return b.e.proxy.Heal() }
			}
			if err := end(b, t); err != nil {
				t.Errorf("end %s on %s: %v", f.name, b.e.kind, err)
			}
		}
	}
	r.to = time.Now()
	for _, b := range backends {
		for _, tr := range b.trackers() {
			tr.mu.Lock()
			tr.during[f.name] += tr.attempts.Load() - before[tr]
			tr.mu.Unlock()
			tr.track(r.to)
		}
	}
	for deadline := r.to.Add(recoveryHang); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if allRecovered(backends) {
			break
		}
	}
	for _, b := range backends {
		for _, tr := range b.trackers() {
			tr.settle(f.name, r.to)
		}
	}
	return r
}

// allRecovered reports whether every tracker has seen its success.
func allRecovered(backends []*soakBackend) bool {
	for _, b := range backends {
		for _, tr := range b.trackers() {
			if tr.backAt.Load() == 0 {
				return false
			}
		}
	}
	return true
}

// soakCaller runs operations on b's key through the new pool until
// deadline or soakMaxOpsPerCall: p.Run, or Get + Run on the lease +
// Release.
func soakCaller(p pool.Pool, b *soakBackend, g int, deadline time.Time) {
	for i := 0; i < soakMaxOpsPerCall && time.Now().Before(deadline); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), soakCallTimeout)
		start := time.Now()
		var err error
		if (g+i)%2 == 0 {
			_, err = p.Run(ctx, b.e.key, "echo soak")
		} else {
			err = getRunRelease(ctx, p, b.e.key)
		}
		cancel()
		b.nw.done(start, err)
		if err != nil {
			time.Sleep(time.Duration(20+g%30) * time.Millisecond)
		}
	}
}

// soakLegacyCaller runs commands on b's server through the legacy pool's
// old API (no context: the pool's command timeout bounds each call).
func soakLegacyCaller(lp *legacy.ConnectionPool, b *soakBackend, g int, deadline time.Time) {
	for i := 0; i < soakMaxOpsPerCall && time.Now().Before(deadline); i++ {
		start := time.Now()
		c, err := lp.GetOrCreateConnection(b.server, false)
		if err == nil {
			_, err = c.ExecuteCommand("echo soak")
		}
		b.lg.done(start, err)
		if err != nil {
			time.Sleep(time.Duration(20+g%30) * time.Millisecond)
		}
	}
}

// soakProbe calls call (bounded by soakCallTimeout) every soakProbeEvery
// until deadline, recording each outcome in tr.
func soakProbe(tr *soakTracker, deadline time.Time, call func(ctx context.Context) error) {
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), soakCallTimeout)
		start := time.Now()
		err := call(ctx)
		cancel()
		tr.done(start, err)
		time.Sleep(soakProbeEvery)
	}
}

// getRunRelease leases a connection, runs a command on it and releases
// it, always.
func getRunRelease(ctx context.Context, p pool.Pool, k string) error {
	c, err := p.Get(ctx, k)
	if err != nil {
		return err
	}
	_, err = c.Run(ctx, "true")
	if rerr := p.Release(k, c); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// runKeyUntilOK runs a command on k until it succeeds, failing the test
// after hangGuard. It returns when it started trying.
func runKeyUntilOK(t *testing.T, p pool.Pool, k string) time.Time {
	t.Helper()
	start := time.Now()
	var last error
	for end := time.Now().Add(hangGuard); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), soakCallTimeout)
		_, last = p.Run(ctx, k, "echo again")
		cancel()
		if last == nil {
			return start
		}
	}
	t.Fatalf("pool does not serve %s %v after the soak: %v", k, hangGuard, last)
	return time.Time{}
}

// legacyUntilOK runs a command on s through the legacy pool until it
// succeeds, failing the test after hangGuard. It returns when it started
// trying.
func legacyUntilOK(t *testing.T, lp *legacy.ConnectionPool, s *legacy.Server) time.Time {
	t.Helper()
	start := time.Now()
	var last error
	for end := time.Now().Add(hangGuard); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		c, err := lp.GetOrCreateConnection(s, false)
		if err == nil {
			_, err = c.ExecuteCommand("echo again")
		}
		if last = err; err == nil {
			return start
		}
	}
	t.Fatalf("legacy pool does not serve %s %v after the soak: %v", s.Host, hangGuard, last)
	return time.Time{}
}

// soakReport renders the totals: per server and pool, the outcomes, and
// per fault the recovery times and the dial attempts made while it lasted.
func soakReport(backends []*soakBackend, faults []soakRecord, rec *recorder, s pool.Snapshot,
	elapsed time.Duration, peakG, peakHeap uint64) string {
	count := map[string]int{}
	for _, f := range faults {
		count[f.fault]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SOAK totals after %v: %d faults (%s); recovery = first success of a call started after the fault ended (goal 1s, hang %v)\n",
		elapsed.Round(time.Millisecond), len(faults), formatCounts(count), recoveryHang)
	for _, be := range backends {
		fmt.Fprintf(&b, "  server=%s\n", be.e.kind)
		for _, pair := range [][2]*soakTracker{{be.nw, be.nwProbe}, {be.lg, be.lgProbe}} {
			tr, pr := pair[0], pair[1]
			tr.mu.Lock()
			pr.mu.Lock()
			fmt.Fprintf(&b, "    %s pool: ops %d, ok %d, errors %s; a successful call takes %s (probe: %s)\n",
				tr.pool, tr.ops.Load(), tr.ok.Load(), formatCounts(tr.errs), durStats(tr.took), durStats(pr.took))
			for _, f := range soakFaults {
				if count[f.name] == 0 {
					continue
				}
				n := float64(count[f.name])
				fmt.Fprintf(&b, "      after %-9s recovery: probe %s, load %s; hangs %d; dial attempts during the fault %.1f (probe key %.1f)\n",
					f.name+":", durStats(pr.recoveries[f.name]), durStats(tr.recoveries[f.name]),
					tr.hangs[f.name]+pr.hangs[f.name], float64(tr.during[f.name])/n, float64(pr.during[f.name])/n)
			}
			for _, k := range []string{"unknown", "timeout", "refused", "canceled"} {
				if ex, ok := tr.examples[k]; ok {
					fmt.Fprintf(&b, "      first %s error: %s\n", k, ex)
				}
			}
			pr.mu.Unlock()
			tr.mu.Unlock()
		}
		var det []string
		for _, f := range []string{"stall", "reset", "restart", "drop", "reboot"} {
			if d := detections(rec, be.e.key, faults, f); len(d) > 0 {
				det = append(det, fmt.Sprintf("%s %s", f, durStats(d)))
			}
		}
		fmt.Fprintf(&b, "    new pool detection of dead connections: %s\n", strings.Join(det, "; "))
	}
	fmt.Fprintf(&b, "  new pool: gets %d, releases %d, outstanding %d, created %d, closed %d %v, dials %d (failed %d), health checks %d (failed %d), circuit opens %d\n",
		s.Gets, s.Releases, s.LeasesOutstanding, s.Created, s.Closed, s.ClosedByReason, s.Dials, s.DialFailures, s.HealthChecks, s.HealthFailures, s.CircuitOpens)
	fmt.Fprintf(&b, "  runs %d (errors %d), run again after a connection lost before the command started %d\n", s.Runs, s.RunErrors, s.RunRetries)
	fmt.Fprintf(&b, "  health events: %s\n", formatCounts(rec.eventCounts()))
	fmt.Fprintf(&b, "  peak goroutines %d, peak heap %.1f MiB", peakG, float64(peakHeap)/(1<<20))
	return b.String()
}

// detections returns, for every injection of fault, how long after it the
// pool first reported a connection of k unhealthy or lost (before the
// fault's recovery window ended).
func detections(rec *recorder, k string, faults []soakRecord, fault string) []time.Duration {
	var out []time.Duration
	for _, f := range faults {
		if f.fault != fault {
			continue
		}
		if at, ok := rec.firstEvent(k, f.at, f.to.Add(recoveryHang), pool.EventUnhealthy, pool.EventLost); ok {
			out = append(out, at.Sub(f.at))
		}
	}
	return out
}

// waitGroup waits for wg, failing the test after a hang guard.
func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(hangGuard + soakCallTimeout):
		t.Fatalf("%s did not return within %v", what, hangGuard+soakCallTimeout)
	}
}

// storeMax raises m to v.
func storeMax(m *atomic.Uint64, v uint64) {
	for old := m.Load(); v > old && !m.CompareAndSwap(old, v); old = m.Load() {
	}
}

// poolGoroutines returns the stacks of goroutines running code of package
// pool or sshconn.
func poolGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "sshpool/sshpool/pool.") || strings.Contains(g, "sshpool/sshpool/sshconn.") {
			if !strings.Contains(g, "poolGoroutines") {
				out = append(out, g)
			}
		}
	}
	return out
}

// durStats renders min, median and max of ds.
func durStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v median %v max %v", r(ds[0]), r(ds[len(ds)/2]), r(ds[len(ds)-1]))
}
