package faulttest_test

import (
	"context"
	"fmt"
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
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// Soak parameters: callers per server, the fault period, and bounds.
const (
	soakCallersSSHTest = 160
	soakCallersSSHD    = 40
	soakFaultEvery     = time.Second
	soakCallTimeout    = 2 * time.Second
	soakMaxOpsPerCall  = 200_000 // per caller goroutine
)

// soakFaults is the rotation of injected faults, one per soakFaultEvery.
// Every tick first heals the proxies (removing the previous fault), then
// injects the next one.
var soakFaults = []string{"stall", "reset", "latency", "restart", "drop", "reboot", "heal"}

// serviceable reports whether calls should succeed while fault is in
// place: the ticks after which a recovery is expected.
func serviceable(fault string) bool {
	return fault == "latency" || fault == "restart" || fault == "drop" || fault == "reboot" || fault == "heal"
}

// soakBackend is one server of the soak with its recovery tracking.
type soakBackend struct {
	e *env

	ops, ok atomic.Int64

	// recovery tracking: after a serviceable tick, the first call that
	// started after it and succeeded ends the recovery.
	pending       atomic.Bool
	recoveryStart atomic.Int64 // unix nanos of the tick

	mu         sync.Mutex // guards errs, examples, recoveries, missed
	errs       map[string]int64
	examples   map[string]string // the first error of each kind
	recoveries []time.Duration
	missed     int // serviceable ticks without a success before the next tick
}

func (b *soakBackend) recordErr(err error) {
	k := kindOf(err)
	b.mu.Lock()
	b.errs[k]++
	if _, ok := b.examples[k]; !ok {
		b.examples[k] = err.Error()
	}
	b.mu.Unlock()
}

// succeeded ends a pending recovery when the call started after its tick.
func (b *soakBackend) succeeded(start time.Time) {
	rs := b.recoveryStart.Load()
	if start.UnixNano() >= rs && b.pending.CompareAndSwap(true, false) {
		b.mu.Lock()
		b.recoveries = append(b.recoveries, time.Since(time.Unix(0, rs)))
		b.mu.Unlock()
	}
}

// tick starts a new recovery window when fault is serviceable, counting
// the previous window as missed if it never saw a success.
func (b *soakBackend) tick(fault string, at time.Time) {
	if b.pending.Swap(false) {
		b.mu.Lock()
		b.missed++
		b.mu.Unlock()
	}
	if serviceable(fault) {
		b.recoveryStart.Store(at.UnixNano())
		b.pending.Store(true)
	}
}

// inject heals the proxy, then applies fault to the server or its proxy.
func (b *soakBackend) inject(fault string) error {
	px := b.e.proxy
	if err := px.Heal(); err != nil {
		return err
	}
	var err error
	switch fault {
	case "stall":
		_, err = px.Stall(faultproxy.Both)
	case "reset":
		_, err = px.ResetPeer(faultproxy.Both)
	case "latency":
		_, err = px.AddLatency(30*time.Millisecond, 10*time.Millisecond, faultproxy.Both)
	case "restart":
		if b.e.sshd != nil {
			err = b.e.sshd.Restart()
		} else {
			err = b.e.sst.Restart()
		}
	case "reboot": // open connections die unseen; the next data gets a RST
		px.ForgetConnections()
	case "drop":
		if b.e.sst != nil {
			b.e.sst.DropAll()
		} else {
			err = px.CutConnections()
		}
	}
	return err
}

// tickRecord is one injected fault.
type tickRecord struct {
	fault string
	at    time.Time
}

// TestSoak runs hundreds of goroutines through one pool against sshtest
// and a real sshd, each behind a fault proxy, while a fault is injected
// every second. It runs only when SSHPOOL_SOAK holds a duration. At the end
// it prints the totals and asserts that no lease was lost, that the pool
// serves again after the last heal, and that Close leaves no goroutine.
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
		{e: newEnv(t, serverSSHTest, envOptions{key: "soak-sshtest"}), errs: map[string]int64{}, examples: map[string]string{}},
		{e: newEnv(t, serverSSHD, envOptions{key: "soak-sshd"}), errs: map[string]int64{}, examples: map[string]string{}},
	}
	callers := []int{soakCallersSSHTest, soakCallersSSHD}
	rec := &recorder{}
	var attempts atomic.Int64
	factory := sshconn.NewFactory(sshconn.Chain{backends[0].e.reg, backends[1].e.reg},
		sshconn.WithAttemptHook(func(string, int, error) { attempts.Add(1) }),
		sshconn.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
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
		Advanced:                 pool.AdvancedPoolConfig{CircuitCooldown: 500 * time.Millisecond},
	}
	p := pool.NewPool(factory, cfg, rec)
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = p.Close()
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
			wg.Add(1)
			go func() {
				defer wg.Done()
				soakCaller(p, b, g, deadline)
			}()
		}
	}

	// The fault injector: one fault per tick, bounded by the duration.
	var ticks []tickRecord
	maxTicks := int(dur/soakFaultEvery) + 1
	tk := time.NewTicker(soakFaultEvery)
	for n := 0; n < maxTicks; n++ {
		<-tk.C
		if time.Now().After(deadline) {
			break
		}
		fault := soakFaults[n%len(soakFaults)]
		at := time.Now()
		for _, b := range backends {
			if err := b.inject(fault); err != nil {
				t.Errorf("inject %s on %s: %v", fault, b.e.kind, err)
			}
			b.tick(fault, at)
		}
		ticks = append(ticks, tickRecord{fault, at})
	}
	tk.Stop()

	// Last heal, then every caller returns (each call is bounded).
	for _, b := range backends {
		if err := b.e.proxy.Heal(); err != nil {
			t.Error(err)
		}
	}
	healedAt := time.Now()
	waitGroup(t, &wg, "soak callers")
	elapsed := time.Since(start)

	// The pool serves again after the last heal, with no manual action.
	var serveAgain []string
	for _, b := range backends {
		at := runKeyUntilOK(t, p, b.e.key)
		serveAgain = append(serveAgain, fmt.Sprintf("%s %v", b.e.kind, at.Sub(healedAt).Round(time.Millisecond)))
	}

	s := p.GetSnapshot()
	report := soakReport(backends, ticks, rec, s, elapsed, attempts.Load(), peakG.Load(), peakHeap.Load(), serveAgain)
	t.Log(report)
	fmt.Println(report)

	if s.LeasesOutstanding != 0 || s.Gets != s.Releases {
		t.Errorf("lost leases: outstanding %d, gets %d, releases %d", s.LeasesOutstanding, s.Gets, s.Releases)
	}
	if leaks := p.Leases(0); len(leaks) != 0 {
		t.Errorf("leases still registered after every caller returned: %v", leaks)
	}

	// Close leaves no goroutine of the pool or its clients behind; then,
	// with the servers and proxies closed too, none at all.
	closed = true
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	close(stopSampler)
	samplerDone.Wait()
	if stacks := poolGoroutines(); len(stacks) != 0 {
		t.Errorf("%d goroutines of the pool or sshconn survive Close:\n%s", len(stacks), strings.Join(stacks, "\n\n"))
	}
	for _, b := range backends {
		b.e.proxy.Close()
		if b.e.sst != nil {
			_ = b.e.sst.Close()
		} else {
			_ = b.e.sshd.Close()
		}
	}
	goleak.VerifyNone(t)
}

// soakCaller runs operations on b's key until deadline or
// soakMaxOpsPerCall: p.Run, or Get + Run on the lease + Release.
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
		b.ops.Add(1)
		if err != nil {
			b.recordErr(err)
			time.Sleep(time.Duration(20+g%30) * time.Millisecond)
			continue
		}
		b.ok.Add(1)
		b.succeeded(start)
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
// after hangGuard. It returns when it succeeded.
func runKeyUntilOK(t *testing.T, p pool.Pool, k string) time.Time {
	t.Helper()
	var last error
	for end := time.Now().Add(hangGuard); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), soakCallTimeout)
		_, last = p.Run(ctx, k, "echo again")
		cancel()
		if last == nil {
			return time.Now()
		}
	}
	t.Fatalf("pool does not serve %s %v after the last heal: %v", k, hangGuard, last)
	return time.Time{}
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

// soakReport renders the totals.
func soakReport(backends []*soakBackend, ticks []tickRecord, rec *recorder, s pool.Snapshot,
	elapsed time.Duration, attempts int64, peakG, peakHeap uint64, serveAgain []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SOAK totals after %v: %d fault ticks (%s)\n", elapsed.Round(time.Millisecond), len(ticks), countTicks(ticks))
	for _, be := range backends {
		be.mu.Lock()
		rs := slices.Clone(be.recoveries)
		fmt.Fprintf(&b, "  server=%s: ops %d, ok %d, errors %s\n", be.e.kind, be.ops.Load(), be.ok.Load(), formatCounts(be.errs))
		fmt.Fprintf(&b, "    recoveries %d (missed windows %d): %s\n", len(rs), be.missed, durStats(rs))
		for _, k := range []string{"unknown", "timeout", "refused", "canceled"} {
			if ex, ok := be.examples[k]; ok {
				fmt.Fprintf(&b, "    first %s error: %s\n", k, ex)
			}
		}
		be.mu.Unlock()
		for _, f := range []string{"stall", "reset", "restart", "drop", "reboot"} {
			d := detections(rec, be.e.key, ticks, f)
			fmt.Fprintf(&b, "    detection after %s: %d of %d ticks: %s\n", f, len(d), countFault(ticks, f), durStats(d))
		}
	}
	fmt.Fprintf(&b, "  pool: gets %d, releases %d, outstanding %d, created %d, closed %d %v, dials %d (failed %d), factory attempts %d, health checks %d (failed %d)\n",
		s.Gets, s.Releases, s.LeasesOutstanding, s.Created, s.Closed, s.ClosedByReason, s.Dials, s.DialFailures, attempts, s.HealthChecks, s.HealthFailures)
	fmt.Fprintf(&b, "  runs %d (errors %d), run again after a connection lost before the command started %d\n", s.Runs, s.RunErrors, s.RunRetries)
	fmt.Fprintf(&b, "  health events: %s\n", formatCounts(rec.eventCounts()))
	fmt.Fprintf(&b, "  serves again after the last heal: %s\n", strings.Join(serveAgain, ", "))
	fmt.Fprintf(&b, "  peak goroutines %d, peak heap %.1f MiB", peakG, float64(peakHeap)/(1<<20))
	return b.String()
}

// detections returns, for every tick of fault, how long after it the pool
// first reported a connection of k unhealthy or lost (before the next
// tick).
func detections(rec *recorder, k string, ticks []tickRecord, fault string) []time.Duration {
	var out []time.Duration
	for i, tk := range ticks {
		if tk.fault != fault {
			continue
		}
		end := tk.at.Add(soakFaultEvery)
		if i+1 < len(ticks) {
			end = ticks[i+1].at
		}
		if at, ok := rec.firstEvent(k, tk.at, end, pool.EventUnhealthy, pool.EventLost); ok {
			out = append(out, at.Sub(tk.at))
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

func countTicks(ticks []tickRecord) string {
	m := map[string]int{}
	for _, tk := range ticks {
		m[tk.fault]++
	}
	return formatCounts(m)
}

func countFault(ticks []tickRecord, fault string) int {
	n := 0
	for _, tk := range ticks {
		if tk.fault == fault {
			n++
		}
	}
	return n
}
