package faulttest_test

import (
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
	"github.com/sshpool/sshpool/pool"
)

// recoveryHang bounds a recovery: a pool that does not serve again within
// it after a fault ended is hung, not slow. Recovery times themselves are
// figures (go test -v), not assertions.
const recoveryHang = 10 * time.Second

// recoveryFaultFor is how long each fault of TestRecovery lasts: long
// enough for the circuit's schedule to reach its cap.
const recoveryFaultFor = 2 * time.Second

// recoveryFault is a fault of the chaos schedule that a later action
// ends: inject starts it, end ends it.
type recoveryFault struct {
	name        string
	inject, end func(e *env, t testing.TB)
}

var recoveryFaults = []recoveryFault{
	// The server answers with another host key, then its own again: a
	// permanent failure (host-key-changed) whose fix only a dial can see.
	{"host-key", (*env).changeHostKey, (*env).restoreHostKey},
	// The client's known_hosts records another key for the server, then
	// the right one again: a fix on this side, which sshconn's factory
	// reports to the pool (pool.ChangeDetector), so the pool dials at once
	// instead of at its next trial.
	{"known-hosts", (*env).breakKnownHosts, (*env).fixKnownHosts},
	// The client's identity file holds a key the server does not know,
	// then the right one again: an authentication failure fixed on this
	// side, reported by the factory, so no CircuitAuthCooldown to wait.
	{"identity", (*env).replaceIdentity, (*env).restoreIdentity},
	// The server is killed (with every connection) and started again.
	{"outage", (*env).stop, (*env).start},
	// The client's key is revoked (authorized_keys emptied, connections
	// cut), then restored: a permanent failure fixed on the server. From
	// the second failure trials are CircuitAuthCooldown (5s) apart, as
	// sshd penalises failed authentications: recovery takes up to that.
	{"auth", (*env).revokeAuth, (*env).fixAuth},
	// The network stalls (nothing forwarded, connections kept open), then
	// heals (the stalled connections are closed).
	{"stall", func(e *env, t testing.TB) {
		if _, err := e.proxy.Stall(faultproxy.Both); err != nil {
			t.Fatal(err)
		}
	}, func(e *env, t testing.TB) {
		if err := e.proxy.Heal(); err != nil {
			t.Fatal(err)
		}
	}},
}

// maxRecoveryDials bounds the pool's dials during one fault of duration d
// with the default circuit: CircuitThreshold failures, the trials of the
// doubling (200, 400, 800ms), then one trial per cap (1s, at least 800ms
// with jitter), and two for the edges. A pool that redials on every call
// makes hundreds (the legacy pool: 408 handshakes in 10 s).
func maxRecoveryDials(d time.Duration) int64 {
	var def pool.PoolConfig
	def.SetDefaults()
	return int64(def.Advanced.CircuitThreshold) + 3 + int64(d/(800*time.Millisecond)) + 2
}

// TestRecovery puts a steady load on the pool, injects each fault of the
// chaos schedule for recoveryFaultFor, ends it, and measures how soon a
// call succeeds again (goal: within 1 s, the circuit's cap; for a key
// authorized again on the server, CircuitAuthCooldown) and how many
// dials the pool made while the fault lasted (asserted bounded). A
// recovery beyond recoveryHang fails as a hang. The chaos run these
// faults come from saw the pool fail for 21.8 s after a host key was
// restored and 6.7 s after a 30 s outage: a permanent failure held the
// circuit open for the full 30 s cooldown.
func TestRecovery(t *testing.T) {
	forEachServer(t, func(t *testing.T, kind server) {
		for _, f := range recoveryFaults {
			t.Run("fault="+f.name, func(t *testing.T) {
				e := newEnv(t, kind, envOptions{})
				p := e.startPool(t, baseConfig())
				warm(t, p)
				l := startLoad(p, 4, "true")
				defer l.Stop()
				t0 := time.Now()
				waitUntil(t, "load served", func() bool { _, ok := l.firstSuccessAfter(t0); return ok })

				a0, d0 := e.attempts.Load(), p.GetSnapshot().Dials
				tf := time.Now()
				f.inject(e, t)
				time.Sleep(recoveryFaultFor)
				attempts, dials := e.attempts.Load()-a0, p.GetSnapshot().Dials-d0
				f.end(e, t)
				te := time.Now()
				back := waitRecovered(t, l, te)
				l.Stop()
				all, _ := l.errors(tf)
				t.Logf("FIGURE %s recovery after %s (%v): serves again %v after the fault ended; during it %d pool dials, %d dial attempts; errors %s",
					kind, f.name, te.Sub(tf).Round(time.Millisecond), back.Sub(te).Round(time.Millisecond), dials, attempts, summarize(all))
				if limit := maxRecoveryDials(te.Sub(tf)); dials > limit {
					t.Errorf("%d pool dials during a %v %s fault, want at most %d", dials, te.Sub(tf).Round(time.Millisecond), f.name, limit)
				}
				if s := p.GetSnapshot(); s.LeasesOutstanding != 0 && l.stop.Load() {
					t.Errorf("leases outstanding %d after the load stopped", s.LeasesOutstanding)
				}
			})
		}
	})
}

// waitRecovered returns the end of the first call of l that started at or
// after te and succeeded, failing the test as a hang after recoveryHang.
func waitRecovered(t *testing.T, l *load, te time.Time) time.Time {
	t.Helper()
	for deadline := te.Add(recoveryHang); ; time.Sleep(5 * time.Millisecond) {
		if back, ok := l.firstSuccessAfter(te); ok {
			return back
		}
		if time.Now().After(deadline) {
			_, errs := l.errors(time.Now())
			t.Fatalf("no call succeeded within %v of the fault's end: a hang (errors since: %s)", recoveryHang, summarize(errs))
		}
	}
}
