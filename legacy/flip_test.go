package legacy_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// recorder notes which pool served each command; a command text is unique
// per call, so a command seen twice was served twice.
type recorder struct {
	served sync.Map // cmd -> legacy.Route
	dups   atomic.Int64
}

func (r *recorder) note(cmd string, route legacy.Route) {
	if _, dup := r.served.LoadOrStore(cmd, route); dup {
		r.dups.Add(1)
	}
}

// countingFactory dials through inner; its clients record, for every
// "echo" command they run successfully, the route they belong to. The
// legacy pool and the new pool of a flip each dial through their own, so
// the record shows which pool served each call, on the wire.
type countingFactory struct {
	inner pool.ConnectionFactory
	route legacy.Route
	rec   *recorder
}

func (f countingFactory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	c, err := f.inner.Dial(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countingClient{SSHClient: c, f: f}, nil
}

type countingClient struct {
	pool.SSHClient
	f countingFactory
}

func (c *countingClient) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	res, err := c.SSHClient.Exec(ctx, cmd)
	if err == nil && strings.HasPrefix(cmd.Cmd, "echo ") {
		c.f.rec.note(cmd.Cmd, c.f.route)
	}
	return res, err
}

// phase is one flag setting of a flip.
type phase struct {
	pct  int
	kill bool
}

func (p phase) String() string {
	if p.kill {
		return "kill-switch"
	}
	return fmt.Sprintf("%d%%", p.pct)
}

// call is one command of the load.
type call struct {
	server     int
	cmd        string
	start, end time.Time
	err        error
}

// flipRun is a flip under load: servers, the router's connections to them,
// and what happened.
type flipRun struct {
	servers []*legacy.Server
	rec     *recorder
	calls   [][]call    // per goroutine
	changes []time.Time // when each phase was in place (after the flag write returned)
	writes  []time.Time // when each flag write began: a call running while
	// a write was in progress may take either route (see ambiguous)
	started atomic.Int64 // calls started so far
	// epoch is 2k while phase k is in place and odd while a flag write is
	// in progress: a call that saw the same even epoch before and after it
	// was decided in that phase.
	epoch atomic.Int64
	// settledMu guards settled, the servers by phase that served a call
	// decided in the phase.
	settledMu sync.Mutex
	settled   map[[2]int]bool
}

const (
	flipServers    = 16
	flipGoroutines = 8
	flipDwell      = 150 * time.Millisecond
	flipMaxCalls   = 20000 // per goroutine: bounds the load whatever the speed
)

// runFlip drives load through a router on client while set moves the flags
// through phases (the first is set before the load starts); it returns when
// every goroutine has stopped.
func runFlip(t *testing.T, e *env, client openfeature.IClient, phases []phase, set func(phase), dwell time.Duration, opts ...legacy.RouterOption) *flipRun {
	fr := &flipRun{rec: &recorder{}, calls: make([][]call, flipGoroutines), settled: map[[2]int]bool{}}
	lp := e.legacyPool(t, legacy.WithFactory(countingFactory{e.factory, legacy.RouteLegacy, fr.rec}))
	np := pool.NewPool(countingFactory{e.factory, legacy.RouteNew, fr.rec}, pool.PoolConfig{}, nil)
	t.Cleanup(func() { np.Close() })
	ad := legacy.NewAdapter(np, e.registrar, legacy.WithIdleDropper(func(k string) bool { return np.DropIdle(k) > 0 }))
	r := legacy.NewRouter(lp, ad, client, opts...)
	t.Cleanup(func() { r.Close() })
	for i := range flipServers {
		fr.servers = append(fr.servers, e.server(fmt.Sprintf("flip-%02d", i)))
	}
	set(phases[0])
	var stop atomic.Bool
	var wg, ready sync.WaitGroup
	ready.Add(flipGoroutines)
	start := make(chan struct{})
	for g := range flipGoroutines {
		wg.Go(func() { fr.calls[g] = fr.load(t, r, g, &stop, &ready, start) })
	}
	ready.Wait()
	fr.writes, fr.changes = append(fr.writes, time.Now()), append(fr.changes, time.Now())
	close(start)
	for k, ph := range phases[1:] {
		fr.dwell(k, dwell)
		fr.epoch.Add(1)
		fr.writes = append(fr.writes, time.Now())
		set(ph)
		fr.changes = append(fr.changes, time.Now())
		fr.epoch.Add(1)
	}
	fr.dwell(len(phases)-1, dwell)
	stop.Store(true)
	wg.Wait()
	return fr
}

// dwell lets phase k run for d and until at least flipGoroutines calls
// have started in it and every server has served a call decided in it, so
// that each phase shows every server's route however slow the machine
// (a 50% phase served by one pool only was a loaded machine's artefact).
// waitLimit bounds it; the checks then report what is missing.
func (fr *flipRun) dwell(k int, d time.Duration) {
	base := fr.started.Load()
	time.Sleep(d)
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if fr.started.Load() >= base+flipGoroutines && fr.allSettled(k) {
			return
		}
	}
}

// settle records that server served a call decided in phase k.
func (fr *flipRun) settle(k, server int) {
	fr.settledMu.Lock()
	defer fr.settledMu.Unlock()
	fr.settled[[2]int{k, server}] = true
}

// allSettled reports whether every server served a call decided in phase k.
func (fr *flipRun) allSettled(k int) bool {
	fr.settledMu.Lock()
	defer fr.settledMu.Unlock()
	for i := range fr.servers {
		if !fr.settled[[2]int{k, i}] {
			return false
		}
	}
	return true
}

// load is one goroutine of the flip: it cycles through the servers on its
// own router connections until stop or flipMaxCalls.
func (fr *flipRun) load(t *testing.T, r *legacy.Router, g int, stop *atomic.Bool, ready *sync.WaitGroup, start <-chan struct{}) []call {
	conns := make([]*legacy.PooledConnection, len(fr.servers))
	for i, s := range fr.servers {
		c, err := r.GetOrCreateConnection(s, false)
		if err != nil {
			t.Error(err)
		}
		conns[i] = c
	}
	ready.Done()
	<-start
	if t.Failed() {
		return nil
	}
	var calls []call
	for n := 0; n < flipMaxCalls && !stop.Load(); n++ {
		i := (g + n) % len(conns)
		epoch := fr.epoch.Load()
		c := call{server: i, cmd: fmt.Sprintf("echo %d-%d", g, n), start: time.Now()}
		fr.started.Add(1)
		var out string
		out, c.err = conns[i].ExecuteCommand(c.cmd)
		c.end = time.Now()
		if c.err == nil && out != c.cmd[len("echo "):]+"\n" {
			c.err = fmt.Errorf("output %q", out)
		}
		if c.err == nil && epoch%2 == 0 && fr.epoch.Load() == epoch {
			fr.settle(int(epoch/2), i)
		}
		calls = append(calls, c)
	}
	return calls
}

// flipReport is what a flip showed for one phase change.
type flipReport struct {
	phase     phase
	calls     int
	perPool   [2]int
	wrong     int           // calls started after the change on a route the phase does not give
	propagate time.Duration // last start of such a call after the change (0: none)
	drain     time.Duration // last end of a call served on the old route after the change
	unsticky  int           // servers served by both pools among the phase's settled calls
	write     time.Duration // how long the flag write took (until the change was in place)
}

// analyse checks every call and returns a report per phase. expected gives
// the route a phase gives a server.
func (fr *flipRun) analyse(t *testing.T, phases []phase, expected func(phase, *legacy.Server) legacy.Route) []flipReport {
	reps := make([]flipReport, len(phases))
	for k := range reps {
		reps[k].phase = phases[k]
		reps[k].write = fr.changes[k].Sub(fr.writes[k])
	}
	failed, total := 0, 0
	for _, calls := range fr.calls {
		for _, c := range calls {
			total++
			route, served := fr.rec.served.Load(c.cmd)
			if c.err != nil || !served {
				failed++
				t.Errorf("call %s on %s: served %v, err %v", c.cmd, fr.servers[c.server].ID, served, c.err)
				continue
			}
			fr.account(reps, c, route.(legacy.Route), expected)
		}
	}
	if d := fr.rec.dups.Load(); d != 0 || failed != 0 {
		t.Fatalf("%d of %d calls failed, %d served twice", failed, total, d)
	}
	fr.checkSticky(reps, expected)
	return reps
}

// account places c in the phase it started in and checks its route.
func (fr *flipRun) account(reps []flipReport, c call, route legacy.Route, expected func(phase, *legacy.Server) legacy.Route) {
	k := fr.phaseAt(c.start)
	rep := &reps[k]
	rep.calls++
	rep.perPool[route]++
	s := fr.servers[c.server]
	if route != expected(rep.phase, s) && !fr.ambiguous(c) {
		rep.wrong++
		rep.propagate = max(rep.propagate, c.start.Sub(fr.changes[k]))
	}
	// A call that ended after a later change on that change's old route
	// counts toward that change's drain time.
	for j := k + 1; j < len(fr.changes) && c.end.After(fr.changes[j]); j++ {
		if route != expected(reps[j].phase, s) {
			reps[j].drain = max(reps[j].drain, c.end.Sub(fr.changes[j]))
		}
	}
}

// ambiguous reports whether c's decision may have been taken on either
// side of a flag write: c began before the write was in place and ended
// after it began (the decision happens somewhere between start and end).
func (fr *flipRun) ambiguous(c call) bool {
	for k := 1; k < len(fr.writes); k++ {
		if !c.start.After(fr.changes[k]) && !c.end.Before(fr.writes[k]) {
			return true
		}
	}
	return false
}

// phaseAt returns the index of the phase in force at t.
func (fr *flipRun) phaseAt(t time.Time) int {
	k, _ := slices.BinarySearchFunc(fr.changes, t, func(c, t time.Time) int { return c.Compare(t) })
	if k == len(fr.changes) || fr.changes[k].After(t) {
		k--
	}
	return max(k, 0)
}

// checkSticky counts servers whose calls in a phase, after propagation, went
// to more than one pool.
func (fr *flipRun) checkSticky(reps []flipReport, expected func(phase, *legacy.Server) legacy.Route) {
	for k := range reps {
		seen := map[int]map[legacy.Route]bool{}
		for _, calls := range fr.calls {
			for _, c := range calls {
				if fr.phaseAt(c.start) != k || c.start.Sub(fr.changes[k]) <= reps[k].propagate || fr.ambiguous(c) {
					continue
				}
				route, _ := fr.rec.served.Load(c.cmd)
				if seen[c.server] == nil {
					seen[c.server] = map[legacy.Route]bool{}
				}
				seen[c.server][route.(legacy.Route)] = true
			}
		}
		for _, routes := range seen {
			if len(routes) > 1 {
				reps[k].unsticky++
			}
		}
	}
}

var flipPhases = []phase{{0, false}, {50, false}, {100, false}, {0, true}, {100, false}}

// memExpected is the route the memprovider rollout gives a server.
func memExpected(ph phase, s *legacy.Server) legacy.Route {
	if !ph.kill && inRollout(featureflags.FlagUseNewPool, s.ID, ph.pct) {
		return legacy.RouteNew
	}
	return legacy.RouteLegacy
}

func logReports(t *testing.T, reps []flipReport) {
	for k, r := range reps {
		t.Logf("phase %d %-11s calls %5d legacy %5d new %5d wrong %d write %v propagate %v drain %v unsticky %d",
			k, r.phase, r.calls, r.perPool[0], r.perPool[1], r.wrong, r.write, r.propagate, r.drain, r.unsticky)
	}
}

// TestFlipUnderLoad moves the flags 0% → 50% → 100% → kill switch → 100%
// under load: no call fails, each is served by exactly one pool, every call
// that starts after a change follows it, and routing is sticky per server.
func TestFlipUnderLoad(t *testing.T) {
	e := newEnv(t)
	client, flags := newFlags(t, flagSet(0, false))
	set := func(ph phase) { flags.UpdateFlags(flagSet(ph.pct, ph.kill)) }
	fr := runFlip(t, e, client, flipPhases, set, flipDwell)
	reps := fr.analyse(t, flipPhases, memExpected)
	logReports(t, reps)
	for k, r := range reps {
		if r.wrong != 0 || r.unsticky != 0 || r.calls == 0 {
			t.Errorf("phase %d (%s): %d calls, %d on the wrong pool, %d servers not sticky", k, r.phase, r.calls, r.wrong, r.unsticky)
		}
	}
	if reps[1].perPool[0] == 0 || reps[1].perPool[1] == 0 {
		t.Errorf("50%% phase used one pool only: %v", reps[1].perPool)
	}
}

// TestFlipUnderLoadCached is TestFlipUnderLoad with WithDecisionCache: calls
// may follow a change only once the provider's event has arrived, so the
// propagation time is measured and must stay below the cache's ttl.
func TestFlipUnderLoadCached(t *testing.T) {
	const ttl = time.Second
	e := newEnv(t)
	client, flags := newFlags(t, flagSet(0, false))
	set := func(ph phase) { flags.UpdateFlags(flagSet(ph.pct, ph.kill)) }
	fr := runFlip(t, e, client, flipPhases, set, flipDwell, legacy.WithDecisionCache(ttl))
	reps := fr.analyse(t, flipPhases, memExpected)
	logReports(t, reps)
	for k, r := range reps {
		if r.propagate >= ttl || r.unsticky != 0 || r.calls == 0 {
			t.Errorf("phase %d (%s): propagation %v, %d servers not sticky", k, r.phase, r.propagate, r.unsticky)
		}
	}
}

// TestFlipUnderLoadSSHD is TestFlipUnderLoad against a real OpenSSH sshd.
func TestFlipUnderLoadSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("real sshd: skipped in -short mode")
	}
	e := newSSHDEnv(t)
	client, flags := newFlags(t, flagSet(0, false))
	set := func(ph phase) { flags.UpdateFlags(flagSet(ph.pct, ph.kill)) }
	fr := runFlip(t, e, client, flipPhases, set, 2*flipDwell)
	reps := fr.analyse(t, flipPhases, memExpected)
	logReports(t, reps)
	for k, r := range reps {
		if r.wrong != 0 || r.unsticky != 0 || r.calls == 0 {
			t.Errorf("phase %d (%s): %d calls, %d on the wrong pool, %d servers not sticky", k, r.phase, r.calls, r.wrong, r.unsticky)
		}
	}
}
