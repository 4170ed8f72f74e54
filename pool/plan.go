package pool

import (
	"encoding/json"
	"fmt"
	"sort"
)

// FieldChange is one config field that differs between two configs.
type FieldChange struct {
	Field string `json:"field"`         // the JSON name of the field
	Old   string `json:"old,omitempty"` // the old value, JSON-encoded; "" when omitted (zero)
	New   string `json:"new,omitempty"` // the new value, JSON-encoded; "" when omitted (zero)
}

// ConfigImpact describes what applying a config change to a pool does.
type ConfigImpact struct {
	// Changes lists the fields that differ, by JSON name, sorted.
	Changes []FieldChange `json:"changes"`
	// CloseIdle counts idle connections closed at once to fit lowered
	// limits (per key first, then pool-wide by the eviction strategy).
	CloseIdle int `json:"close_idle"`
	// OverLimitBusy counts busy connections above the new limits; they get
	// no replacement and are closed by cleanup once idle.
	OverLimitBusy int `json:"over_limit_busy"`
	// SessionsResized is true when MaxSessionsPerConnection changes; new
	// leases see the new bound at once, existing leases are not touched.
	SessionsResized bool `json:"sessions_resized"`
	// OverSessionLimit counts connections holding more leases than the new
	// MaxSessionsPerConnection; they take no new leases until below it.
	OverSessionLimit int `json:"over_session_limit"`
	// Notes are human-readable remarks (lifetime, balancing changes).
	Notes []string `json:"notes,omitempty"`
}

// PlanConfigChange computes the impact of moving a pool whose open
// connections are entries (Pool.Entries) from old to next. It does
// nothing; Pool.UpdateConfig applies the same rules. Both configs are taken
// with defaults applied. With nil entries it plans the change of
// configuration alone: Changes, SessionsResized and Notes, no connection
// counts. Entries in StateClosed are not counted.
//
// For a live pool, plan before applying:
//
//	imp := pool.PlanConfigChange(p.Config(), next, p.Entries())
//	err := p.UpdateConfig(next)
func PlanConfigChange(old, next PoolConfig, entries []EntryInfo) ConfigImpact {
	old.SetDefaults()
	next.SetDefaults()
	imp := ConfigImpact{Changes: diffConfigs(old, next)}
	imp.SessionsResized = old.MaxSessionsPerConnection != next.MaxSessionsPerConnection
	total, idleLeft := 0, 0
	for _, k := range loadByKey(entries, next.MaxSessionsPerConnection) {
		over := max(k.open-next.MaxConnectionsPerKey, 0)
		closed := min(over, k.idle)
		imp.CloseIdle += closed
		imp.OverLimitBusy += over - closed
		total += k.open - closed
		idleLeft += k.idle - closed
		if imp.SessionsResized {
			imp.OverSessionLimit += k.overSessions
		}
	}
	if over := total - next.MaxConnections; over > 0 {
		closed := min(over, idleLeft)
		imp.CloseIdle += closed
		imp.OverLimitBusy = max(imp.OverLimitBusy, over-closed)
	}
	imp.Notes = planNotes(old, next)
	return imp
}

// keyLoad is one key's connections at a moment.
type keyLoad struct {
	open         int // connections in any state but closed
	idle         int // healthy ones without leases
	overSessions int // ones holding more leases than a session limit
}

// loadByKey sums entries by key, counting the connections that hold more
// than maxSessions leases.
func loadByKey(entries []EntryInfo, maxSessions int) map[string]*keyLoad {
	out := map[string]*keyLoad{}
	for _, e := range entries {
		if e.State == StateClosed {
			continue
		}
		k := out[e.Key]
		if k == nil {
			k = &keyLoad{}
			out[e.Key] = k
		}
		k.open++
		if e.State == StateIdle {
			k.idle++
		}
		if e.Leases > int64(maxSessions) {
			k.overSessions++
		}
	}
	return out
}

func planNotes(old, next PoolConfig) []string {
	var notes []string
	if next.MaxLifetime != old.MaxLifetime {
		notes = append(notes, fmt.Sprintf("MaxLifetime %v→%v applies to connections dialled from now on", old.MaxLifetime, next.MaxLifetime))
	}
	if next.LoadBalancing != old.LoadBalancing {
		notes = append(notes, fmt.Sprintf("load balancing %v→%v applies to the next Get", old.LoadBalancing, next.LoadBalancing))
	}
	return notes
}

// diffConfigs compares the JSON forms of a and b field by field. A field
// that one side omits (a zero omitempty field) is "" on that side.
func diffConfigs(a, b PoolConfig) []FieldChange {
	am, bm := configMap(a), configMap(b)
	var out []FieldChange
	for k, av := range am {
		if bv := bm[k]; string(av) != string(bv) {
			out = append(out, FieldChange{Field: k, Old: string(av), New: string(bv)})
		}
	}
	for k, bv := range bm {
		if _, ok := am[k]; !ok {
			out = append(out, FieldChange{Field: k, New: string(bv)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func configMap(c PoolConfig) map[string]json.RawMessage {
	b, _ := json.Marshal(c) // cannot fail: the config holds only numbers, strings and durations
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(b, &m)
	return m
}
