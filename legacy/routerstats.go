package legacy

import (
	"sync/atomic"
	"time"
)

// DecisionCount is how many decisions chose Route for Reason with Variant.
type DecisionCount struct {
	Route   Route
	Reason  Reason
	Variant string
	Count   int64
}

// RouterStats is a snapshot of a Router's counters. All counts are
// cumulative since NewRouter.
type RouterStats struct {
	// Decisions is the number of decisions; Legacy and New split it by
	// route; Fallbacks counts those routed to legacy because evaluation
	// failed (flag not found, provider not ready, evaluation error).
	Decisions, Legacy, New, Fallbacks int64
	// ByReason counts decisions per route and reason.
	ByReason [numRoutes][numReasons]int64
	// ByVariant counts decisions per route, reason and variant.
	ByVariant []DecisionCount
	// MeanLatency and MaxLatency describe the decisions' own latency
	// (Decision.Latency: a decision reused from the cache counts as 0, so
	// the mean is the flag evaluations' cost per decision).
	MeanLatency, MaxLatency time.Duration
	// RouteChanges counts keys whose route changed between decisions;
	// Drained counts idle connections the losing pool dropped for them.
	RouteChanges, Drained int64
}

// routerStats holds a Router's counters. Everything is lock-free: atomics,
// and a copy-on-write table of variant counters replaced by CAS.
type routerStats struct {
	byReason     [numRoutes][numReasons]atomic.Int64
	variants     atomic.Pointer[[]*variantCounter]
	latencyNanos atomic.Int64
	maxLatency   atomic.Int64
	routeChanges atomic.Int64
	drained      atomic.Int64
}

// maxVariantCounters bounds the variant table; further variants are
// counted as otherVariant.
const (
	maxVariantCounters = 64
	otherVariant       = "(other)"
)

// variantCounter counts one (route, reason, variant).
type variantCounter struct {
	route   Route
	reason  Reason
	variant string
	n       atomic.Int64
}

// record counts d; it allocates only the first time a variant is seen.
func (s *routerStats) record(d *Decision) {
	s.byReason[d.Route][d.Reason].Add(1)
	ns := int64(d.Latency)
	s.latencyNanos.Add(ns)
	for cur := s.maxLatency.Load(); ns > cur && !s.maxLatency.CompareAndSwap(cur, ns); {
		cur = s.maxLatency.Load()
	}
	s.variant(d.Route, d.Reason, d.Variant).n.Add(1)
}

// variant returns the counter for (route, reason, variant), adding it to
// the table if it is new.
func (s *routerStats) variant(route Route, reason Reason, variant string) *variantCounter {
	for {
		tab := s.variants.Load()
		if tab != nil {
			for _, vc := range *tab {
				if vc.route == route && vc.reason == reason && vc.variant == variant {
					return vc
				}
			}
		}
		if tab != nil && len(*tab) >= maxVariantCounters && variant != otherVariant {
			variant = otherVariant // a provider with unbounded variant names
			continue
		}
		vc := &variantCounter{route: route, reason: reason, variant: variant}
		var next []*variantCounter
		if tab != nil {
			next = append(next, *tab...)
		}
		next = append(next, vc)
		if s.variants.CompareAndSwap(tab, &next) {
			return vc
		}
	}
}

func (s *routerStats) snapshot() RouterStats {
	var out RouterStats
	for route := range numRoutes {
		for reason := range numReasons {
			n := s.byReason[route][reason].Load()
			out.ByReason[route][reason] = n
			out.Decisions += n
			if route == RouteNew {
				out.New += n
			} else {
				out.Legacy += n
			}
			if reason.Fallback() {
				out.Fallbacks += n
			}
		}
	}
	if tab := s.variants.Load(); tab != nil {
		for _, vc := range *tab {
			out.ByVariant = append(out.ByVariant, DecisionCount{vc.route, vc.reason, vc.variant, vc.n.Load()})
		}
	}
	if out.Decisions > 0 {
		out.MeanLatency = time.Duration(s.latencyNanos.Load() / out.Decisions)
	}
	out.MaxLatency = time.Duration(s.maxLatency.Load())
	out.RouteChanges, out.Drained = s.routeChanges.Load(), s.drained.Load()
	return out
}
