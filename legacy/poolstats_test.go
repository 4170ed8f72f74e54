package legacy_test

import (
	"testing"

	"github.com/sshpool/sshpool/legacy"
)

// TestPoolStats: dials (failed ones too), commands (exec and stream,
// failures included) and health checks are counted with their latency
// distributions; the gauges reflect the map.
func TestPoolStats(t *testing.T) {
	e := newEnv(t)
	p := e.legacyPool(t, legacy.WithHealthInterval(-1))
	conn, err := p.GetOrCreateConnection(e.server("s1"), false)
	must(t, err)
	if _, err := conn.ExecuteCommand("echo hi"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecuteCommand("exit 3"); err == nil {
		t.Fatal("exit 3 succeeded")
	}
	out := make(chan string, 10)
	must(t, conn.ExecuteCommandStream("echo a", out))
	must(t, conn.TestHealth())
	if _, err := p.GetOrCreateConnection(e.down(t, "s2"), false); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	s := p.Stats()
	if s.Connections != 1 || s.Idle != 1 || s.Active != 0 || s.Unhealthy != 0 || s.InUse != 0 {
		t.Errorf("gauges %+v", s)
	}
	if s.Dials != 2 || s.DialFailures != 1 || s.DialLatency.Count != 2 {
		t.Errorf("dials %d failures %d latency %+v", s.Dials, s.DialFailures, s.DialLatency)
	}
	if s.Commands != 3 || s.CommandErrors != 1 || s.CommandLatency.Count != 3 || s.CommandLatency.Sum <= 0 {
		t.Errorf("commands %d errors %d latency %+v", s.Commands, s.CommandErrors, s.CommandLatency)
	}
	if s.HealthChecks != 1 || s.HealthFailures != 0 {
		t.Errorf("health %d/%d", s.HealthChecks, s.HealthFailures)
	}
}
