package app

import (
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
)

// Readiness is what /readyz reports: Ready, and the checks it is made of.
type Readiness struct {
	Ready  bool    `json:"ready"`
	Checks []Check `json:"checks"`
}

// Check is one readiness check. A check that passes may still carry a
// Detail worth showing (a degraded pool, a flag source that cannot take
// changes); only OK decides.
//
// The flags check fails while the flag provider is not ready (not yet
// initialised, or in error with no document ever in force). A provider in
// error because its latest document was refused still serves the last
// good flags: that passes, with the refusal as the detail. A provider whose source is disconnected
// (featureflags.SourceHealth not Connected; OpenFeature's STALE state)
// still evaluates the flags in force and routes correctly; only a flip
// would not arrive. That passes, with the source's reason as the detail.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Readiness evaluates the readiness checks. It does no I/O and probes
// nothing: the pool's verdict is the one its health loop, death watchers
// and dials last left (pool.Pool.LastHealth).
func (a *Admin) Readiness() Readiness {
	checks := []Check{a.lifecycleCheck(), a.flagsCheck(), a.healthCheck()}
	rep := Readiness{Ready: true, Checks: checks}
	for _, c := range checks {
		rep.Ready = rep.Ready && c.OK
	}
	return rep
}

// lifecycleCheck passes between the last OnStart and the first OnStop.
func (a *Admin) lifecycleCheck() Check {
	c := Check{Name: "started", OK: a.ready.Load()}
	if !c.OK {
		c.Detail = "starting or stopping"
	}
	return c
}

// flagsCheck passes when the flag provider is ready, or stale (see Check).
func (a *Admin) flagsCheck() Check {
	c := Check{Name: "flags", OK: true}
	sp, hasStats := a.m.FlagProvider.(interface {
		Stats() featureflags.ProviderStats
	})
	if a.m.Client != nil {
		switch st := a.m.Client.State(); st {
		case openfeature.ReadyState:
		case openfeature.StaleState:
			c.Detail = "flags in force, changes not arriving"
		case openfeature.ErrorState:
			// A refused document leaves the last good flags in force:
			// routing is unchanged, so the instance stays ready (a bad
			// document published to a fleet must not take every
			// instance out of service). Not ready only when no document
			// was ever in force.
			if hasStats {
				if s := sp.Stats(); !s.Document.LoadedAt.IsZero() {
					c.Detail = "flags in force; the last document was refused: " + s.LastError
					return c
				}
			}
			c.OK, c.Detail = false, "flag provider "+string(st)
		default:
			c.OK, c.Detail = false, "flag provider "+string(st)
		}
	}
	if hasStats && c.OK {
		if h := sp.Stats().Health; !h.Connected {
			c.Detail = "flags in force, changes not arriving: " + h.Detail
		}
	}
	return c
}

// healthCheck passes unless the pool's last verdict is unhealthy.
func (a *Admin) healthCheck() Check {
	rep := a.m.Pool.LastHealth()
	return Check{Name: "pool", OK: rep.Ready(), Detail: string(rep.Status)}
}
