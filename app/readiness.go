package app

import "github.com/open-feature/go-sdk/openfeature"

// Readiness is what /readyz reports: Ready, and the checks it is made of.
type Readiness struct {
	Ready  bool    `json:"ready"`
	Checks []Check `json:"checks"`
}

// Check is one readiness check. A check that passes may still carry a
// Detail worth showing (a degraded pool, a flag source that cannot take
// changes); only OK decides.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// ChangeReadiness is implemented by a flag provider that can keep serving
// its flags while it cannot take changes, such as a remote source whose
// watch is down and that evaluates its last flags. /readyz shows the
// detail in the flags check without failing readiness: the flags in force
// still route correctly, only a flip would not arrive.
type ChangeReadiness interface {
	// ChangeReady reports whether changes to the flags reach the
	// provider now, and why not when they do not. It must not block.
	ChangeReady() (ok bool, detail string)
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

// flagsCheck passes when the flag provider is ready.
func (a *Admin) flagsCheck() Check {
	c := Check{Name: "flags", OK: true}
	if a.m.Client != nil {
		if st := a.m.Client.State(); st != openfeature.ReadyState {
			c.OK, c.Detail = false, "flag provider "+string(st)
		}
	}
	if cr, ok := a.m.FlagProvider.(ChangeReadiness); ok && c.OK {
		if ok, detail := cr.ChangeReady(); !ok {
			c.Detail = "flags in force, changes not arriving: " + detail
		}
	}
	return c
}

// healthCheck passes unless the pool's last verdict is unhealthy.
func (a *Admin) healthCheck() Check {
	rep := a.m.Pool.LastHealth()
	return Check{Name: "pool", OK: rep.Ready(), Detail: rep.Status.String()}
}
