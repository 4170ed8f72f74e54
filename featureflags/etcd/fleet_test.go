package etcd_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
	"github.com/sshpool/sshpool/sshtest"
)

// callPacing is the pause between two calls of one instance's worker:
// ~100 calls/s per instance, and the resolution of a flip's timing.
const callPacing = 10 * time.Millisecond

// router is one service instance: the whole migration layer (both pools,
// the router with the app's 1 s decision cache, the flags) on its own etcd
// source and client, with a worker calling through the router.
type router struct {
	m        *providers.Migration
	provider *featureflags.Provider

	calls, failures atomic.Int64
	// legacyAt is when the worker's first call routed to legacy after
	// the current flip started (0: not yet); unixNano.
	legacyAt atomic.Int64
	newAt    atomic.Int64
}

// fleet is n routers watching one etcd, serving calls to one SSH server.
type fleet struct {
	routers []*router
	flip    atomic.Int64 // start of the current flip, unixNano
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startFleet(t testing.TB, srv *etcdtest.Server, n int) *fleet {
	t.Helper()
	ssh := sshtest.NewServer(t)
	dir := t.TempDir()
	keyFile, knownHosts, err := ssh.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	server := legacy.Server{ID: "web-1", Host: ssh.Host(), Port: ssh.Port(), AppUsername: "app",
		ManualKeyPath: keyFile, KnownHostsPath: knownHosts}

	f := &fleet{stop: make(chan struct{})}
	for range n {
		src, err := etcd.NewSource(sourceConfig(srv))
		if err != nil {
			t.Fatal(err)
		}
		m, cleanup, err := sshpool.InitializeMigration(providers.Config{
			Flags:  providers.FlagsConfig{Source: src},
			Router: providers.RouterConfig{DecisionCache: time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cleanup)
		if err := m.Flags.Start(ctxT(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		f.routers = append(f.routers, &router{m: m, provider: m.FlagProvider.(*featureflags.Provider)})
	}
	for _, r := range f.routers {
		f.wg.Go(func() { f.serve(t, r, server) })
	}
	t.Cleanup(f.close)
	return f
}

// serve calls through r until the fleet stops, noting the route of each
// call from the router's counters (the worker is the router's only
// caller).
func (f *fleet) serve(t testing.TB, r *router, server legacy.Server) {
	conn, err := r.m.Router.GetOrCreateConnection(&server, false)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	for {
		select {
		case <-f.stop:
			return
		case <-time.After(callPacing):
		}
		before := r.m.Router.Stats().Legacy
		out, err := conn.ExecuteCommand("echo ok")
		r.calls.Add(1)
		if err != nil || out != "ok\n" {
			r.failures.Add(1)
			t.Errorf("call failed: %q, %v", out, err)
			continue
		}
		now, start := time.Now().UnixNano(), f.flip.Load()
		at := &r.newAt
		if r.m.Router.Stats().Legacy > before {
			at = &r.legacyAt
		}
		if start != 0 && now > start {
			at.CompareAndSwap(0, now)
		}
	}
}

func (f *fleet) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
}

// startFlip resets the routers' marks and records the flip's start.
func (f *fleet) startFlip() time.Time {
	for _, r := range f.routers {
		r.legacyAt.Store(0)
		r.newAt.Store(0)
	}
	now := time.Now()
	f.flip.Store(now.UnixNano())
	return now
}

// await waits until every router's worker has made a call on the wanted
// route since the flip started, and returns the time from start to the
// last of them. It fails the test after the hang bound.
func (f *fleet) await(t testing.TB, start time.Time, toLegacy bool) time.Duration {
	t.Helper()
	var last int64
	eventually(t, hang, fmt.Sprintf("not every instance routed to legacy=%v", toLegacy), func() bool {
		last = 0
		for _, r := range f.routers {
			at := r.newAt.Load()
			if toLegacy {
				at = r.legacyAt.Load()
			}
			if at == 0 {
				return false
			}
			last = max(last, at)
		}
		return true
	})
	return time.Duration(last - start.UnixNano())
}

func (f *fleet) failures() (calls, failed int64) {
	for _, r := range f.routers {
		calls += r.calls.Load()
		failed += r.failures.Load()
	}
	return calls, failed
}

// flipFleet turns the kill switch on and off flips times, each with a put
// of the whole document, and returns the on-latencies: from the put to the
// last instance routing a call to legacy.
func flipFleet(t testing.TB, srv *etcdtest.Server, f *fleet, flips int) []time.Duration {
	c := srv.Client(t)
	var lat []time.Duration
	for range flips {
		start := f.startFlip()
		put(t, c, etcd.DefaultKey, routingDoc(true, true))
		lat = append(lat, f.await(t, start, true))
		start = f.startFlip()
		put(t, c, etcd.DefaultKey, routingDoc(false, true))
		f.await(t, start, false)
	}
	return lat
}

// percentile returns the q-quantile (nearest rank) of d.
func percentile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// TestFleetFlip: 10 routers, each with its own etcd client, serve calls
// while the kill switch is flipped 20 times; every flip reaches every
// instance and no call fails. The flip latency (put → last instance
// routing to legacy) is logged, not asserted: run
// go test -run TestFleetFlip -v ./featureflags/etcd/ to see it, or
// BenchmarkFleetFlip.
func TestFleetFlip(t *testing.T) {
	srv := etcdtest.Start(t)
	put(t, srv.Client(t), etcd.DefaultKey, routingDoc(false, true))
	f := startFleet(t, srv, 10)
	f.await(t, f.startFlip(), false) // every instance routes to the new pool before the first flip
	lat := flipFleet(t, srv, f, 20)
	f.close()
	calls, failed := f.failures()
	t.Logf("fleet flip over %d flips, 10 instances: p50 %v, p99 %v, max %v; %d calls, %d failed",
		len(lat), percentile(lat, 0.5), percentile(lat, 0.99), slices.Max(lat), calls, failed)
	if failed != 0 {
		t.Errorf("%d of %d calls failed", failed, calls)
	}
}

// BenchmarkFleetFlip reports the fleet flip latency over b.N flips of 10
// routers: go test -run '^$' -bench FleetFlip -benchtime 20x ./featureflags/etcd/
func BenchmarkFleetFlip(b *testing.B) {
	srv := etcdtest.Start(b)
	put(b, srv.Client(b), etcd.DefaultKey, routingDoc(false, true))
	f := startFleet(b, srv, 10)
	f.await(b, f.startFlip(), false)
	b.ResetTimer()
	lat := flipFleet(b, srv, f, b.N)
	b.StopTimer()
	f.close()
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(slices.Max(lat).Microseconds())/1000, "max-ms")
	if _, failed := f.failures(); failed != 0 {
		b.Errorf("%d calls failed", failed)
	}
}

// TestEtcdRestartUnderLoad: etcd crashes while 10 routers serve calls; the
// flags in force keep routing (no call fails, none changes pool), every
// source reports itself disconnected, reconnects when etcd is back, and a
// change published after the restart reaches every instance.
func TestEtcdRestartUnderLoad(t *testing.T) {
	srv := etcdtest.Start(t)
	put(t, srv.Client(t), etcd.DefaultKey, routingDoc(false, true))
	f := startFleet(t, srv, 10)
	f.await(t, f.startFlip(), false)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.routers {
		eventually(t, hang, "a source did not report etcd lost", func() bool { return !r.provider.Stats().Health.Connected })
	}
	start := f.startFlip()
	f.await(t, start, false) // still the new pool, while etcd is down
	for _, r := range f.routers {
		if r.legacyAt.Load() != 0 {
			t.Error("an instance changed pool while etcd was down")
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.routers {
		eventually(t, hang, "a source did not reconnect", func() bool { return r.provider.Stats().Health.Connected })
	}
	start = f.startFlip()
	put(t, srv.Client(t), etcd.DefaultKey, routingDoc(true, true))
	t.Logf("kill switch after the restart reached all 10 instances in %v", f.await(t, start, true))
	f.close()
	if calls, failed := f.failures(); failed != 0 {
		t.Errorf("%d of %d calls failed", failed, calls)
	}
}
