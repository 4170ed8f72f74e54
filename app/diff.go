package app

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"

	"github.com/sshpool/sshpool/pool"
)

// ConfigDiff is what replacing one configuration by another changes in a
// process running the first: a reload applies the pool section to the
// live pool (ConfigStore.ApplyPool); every other section waits for the
// next start.
type ConfigDiff struct {
	// Pool is the pool section's impact on the pool
	// (pool.PlanConfigChange). Its connection counts are those of the pool
	// it was planned against; planned without one they are zero.
	Pool pool.ConfigImpact `json:"pool"`
	// Applied lists the pool keys whose values changed
	// ("pool.max_connections"), sorted: a reload applies them.
	Applied []string `json:"applied"`
	// Pending lists the keys of other sections that changed, sorted: they
	// take effect at the next start. Values are compared, never listed
	// (secrets stay out of logs).
	Pending []string `json:"pending_restart"`
}

// DiffConfig compares old, the configuration a process runs, with next:
// what a reload to next applies to a pool whose open connections are
// entries (pool.Pool.Entries; nil plans the configurations alone), and
// what waits for a restart. Both are taken as loaded (validated).
func DiffConfig(old, next Config, entries []pool.EntryInfo) ConfigDiff {
	d := ConfigDiff{Pool: pool.PlanConfigChange(old.Pool.PoolConfig(), next.Pool.PoolConfig(), entries),
		Applied: []string{}, Pending: []string{}}
	for _, key := range changedKeys(old, next) {
		if strings.HasPrefix(key, "pool.") {
			d.Applied = append(d.Applied, key)
		} else {
			d.Pending = append(d.Pending, key)
		}
	}
	return d
}

// Empty reports whether the two configurations are the same.
func (d ConfigDiff) Empty() bool { return len(d.Applied) == 0 && len(d.Pending) == 0 }

// LogValue logs d as a group: the keys applied and pending a restart, the
// pool's changes ("max_connections 20→10") and the connections the change
// closes or holds back, so that a reload's log line says what it did.
func (d ConfigDiff) LogValue() slog.Value {
	changes := make([]string, len(d.Pool.Changes))
	for i, c := range d.Pool.Changes {
		changes[i] = fmt.Sprintf("%s %s→%s", c.Field, orNone(c.Old), orNone(c.New))
	}
	attrs := []slog.Attr{slog.Any("applied", d.Applied), slog.Any("pool_changes", changes),
		slog.Int("close_idle", d.Pool.CloseIdle), slog.Int("over_limit_busy", d.Pool.OverLimitBusy)}
	if d.Pool.SessionsResized {
		attrs = append(attrs, slog.Bool("sessions_resized", true), slog.Int("over_session_limit", d.Pool.OverSessionLimit))
	}
	if len(d.Pool.Notes) > 0 {
		attrs = append(attrs, slog.Any("notes", d.Pool.Notes))
	}
	if len(d.Pending) > 0 {
		attrs = append(attrs, slog.Any("pending_restart", d.Pending))
	}
	return slog.GroupValue(attrs...)
}

// orNone is v, or "none" for a value a config omits (its zero).
func orNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

// changedKeys lists the keys whose values differ between a and b, sorted;
// values are compared, never reported (secrets stay out of logs).
func changedKeys(a, b Config) []string {
	fa, fb := flatten(a), flatten(b)
	var out []string
	for k, va := range fa {
		if vb, ok := fb[k]; !ok || fmt.Sprint(va) != fmt.Sprint(vb) {
			out = append(out, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// flatten returns c's values by config key.
func flatten(c Config) map[string]any {
	k := koanf.New(".")
	// A Config always loads: structs.Provider cannot fail on a struct.
	k.Load(structs.Provider(c, "koanf"), nil)
	return k.All()
}
