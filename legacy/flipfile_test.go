package legacy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
)

// flagFile is a flagd-format flag file for a phase: the kill switch, and
// use-new-pool as a fractional split on the server ID.
func flagFile(ph phase) []byte {
	return fmt.Appendf(nil, `{
  "flags": {
    "flip-phase": {"state": "ENABLED", "variants": {"v": %q}, "defaultVariant": "v"},
    "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": %q},
    "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"fractional": [["on", %d], ["off", %d]]}}
  }
}`, ph.String(), map[bool]string{true: "on", false: "off"}[ph.kill], ph.pct, 100-ph.pct)
}

// writeFlagFile replaces path atomically (write and rename), as a
// deployment does.
func writeFlagFile(t testing.TB, path string, ph phase) {
	tmp := path + ".tmp"
	must(t, os.WriteFile(tmp, flagFile(ph), 0o600))
	must(t, os.Rename(tmp, path))
}

// startFileFlags starts a file provider on path on its own isolated API.
func startFileFlags(t testing.TB, path string) *featureflags.Flags {
	p, err := featureflags.NewFileProvider(path)
	must(t, err)
	f := featureflags.NewFlags(p)
	must(t, f.Start(context.Background()))
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return f
}

// fileExpected evaluates each phase's file on a separate provider, giving
// the route flagd's bucketing assigns every server in every phase.
func fileExpected(t *testing.T, phases []phase, servers []*legacy.Server) func(phase, *legacy.Server) legacy.Route {
	want := map[phase]map[string]legacy.Route{}
	for k, ph := range phases {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("phase%d.json", k))
		writeFlagFile(t, path, ph)
		r := legacy.NewRouter(&stubProvider{}, &stubProvider{}, startFileFlags(t, path).Client())
		want[ph] = map[string]legacy.Route{}
		for _, s := range servers {
			want[ph][s.ID] = r.Decide(context.Background(), s, false).Route
		}
	}
	return func(ph phase, s *legacy.Server) legacy.Route { return want[ph][s.ID] }
}

// waitPhase polls the provider until it serves ph's file (its "flip-phase"
// flag), at most 30 s.
func waitPhase(t testing.TB, f *featureflags.Flags, ph phase) {
	ec := legacy.EvaluationContext(&legacy.Server{ID: "probe"}, false)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if v, _ := f.Client().StringValue(context.Background(), "flip-phase", "", ec); v == ph.String() {
			return
		}
	}
	t.Errorf("provider did not load phase %s in 30s", ph)
}

// TestFlipUnderLoadFileProvider runs the flip with the flagd-format file
// provider, changing the flags by rewriting the file. A change is in place
// once the provider has reloaded the file (watch + 100 ms debounce): the
// test measures that as the write time, during which calls may take either
// route, and requires every call after it to follow the change.
func TestFlipUnderLoadFileProvider(t *testing.T) {
	t.Run("cache=off", func(t *testing.T) { fileFlip(t, false) })
	// With the decision cache, a change reaches the router by the
	// provider's configuration-changed event: propagation measures its
	// delivery and must stay below the cache's ttl.
	t.Run("cache=on", func(t *testing.T) { fileFlip(t, true) })
}

func fileFlip(t *testing.T, cached bool) {
	const ttl = time.Second
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "flags.json")
	writeFlagFile(t, path, flipPhases[0])
	flags := startFileFlags(t, path)
	set := func(ph phase) { writeFlagFile(t, path, ph); waitPhase(t, flags, ph) }
	var opts []legacy.RouterOption
	if cached {
		opts = append(opts, legacy.WithDecisionCache(ttl))
	}
	fr := runFlip(t, e, flags.Client(), flipPhases, set, 3*flipDwell, opts...)
	reps := fr.analyse(t, flipPhases, fileExpected(t, flipPhases, fr.servers))
	logReports(t, reps)
	for k, r := range reps {
		if (r.wrong != 0 && !cached) || r.propagate >= ttl || r.unsticky != 0 || r.calls == 0 {
			t.Errorf("phase %d (%s): %d calls, %d on the wrong pool (propagation %v), %d servers not sticky",
				k, r.phase, r.calls, r.wrong, r.propagate, r.unsticky)
		}
	}
	if reps[1].perPool[0] == 0 || reps[1].perPool[1] == 0 {
		t.Errorf("50%% phase used one pool only: %v", reps[1].perPool)
	}
}
