package routes

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/open-feature/go-sdk/openfeature"
)

// Change is a target whose routing differs between two flag documents.
type Change struct {
	Old Row `json:"old"`
	New Row `json:"new"`
}

// DiffSummary counts the servers that change pool.
type DiffSummary struct {
	Servers     int `json:"servers"`
	Changed     int `json:"changed"`      // route or reason differ
	ToNew       int `json:"to_new"`       // legacy → new
	ToLegacy    int `json:"to_legacy"`    // new → legacy
	NewBefore   int `json:"new_before"`   // servers on the new pool with the old flags
	NewAfter    int `json:"new_after"`    // and with the new flags
	FailedAfter int `json:"failed_after"` // evaluations that fail with the new flags
}

// Diff is what changes between two flag documents for a set of targets.
type Diff struct {
	Changes []Change    `json:"changes"`
	Summary DiffSummary `json:"summary"`
}

// Compare decides every target with the old and the new flags and returns
// the targets whose route or reason differ.
func Compare(ctx context.Context, oldFlags, newFlags openfeature.IClient, targets []Target) Diff {
	before := Evaluate(ctx, oldFlags, targets)
	after := Evaluate(ctx, newFlags, targets)
	d := Diff{Changes: []Change{}, Summary: DiffSummary{Servers: len(targets),
		NewBefore: before.Summary.New, NewAfter: after.Summary.New, FailedAfter: after.Summary.Fallbacks}}
	for i := range targets {
		o, n := before.Rows[i], after.Rows[i]
		if o.Route == n.Route && o.Reason == n.Reason {
			continue
		}
		d.Changes = append(d.Changes, Change{Old: o, New: n})
		d.Summary.Changed++
		switch {
		case o.Route != n.Route && n.Route == "new":
			d.Summary.ToNew++
		case o.Route != n.Route:
			d.Summary.ToLegacy++
		}
	}
	return d
}

// String is the summary as a sentence.
func (s DiffSummary) String() string {
	return fmt.Sprintf("%d of %d servers change: %d legacy→new, %d new→legacy; new pool %d → %d servers; %d evaluations fail with the new flags",
		s.Changed, s.Servers, s.ToNew, s.ToLegacy, s.NewBefore, s.NewAfter, s.FailedAfter)
}

// Write prints the changes (SERVER HOST BEFORE AFTER) and the summary.
func (d Diff) Write(w io.Writer) error {
	if len(d.Changes) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVER\tHOST\tBEFORE\tAFTER")
		for _, c := range d.Changes {
			fmt.Fprintf(tw, "%s\t%s\t%s (%s)\t%s (%s)\n", c.New.Server, hostPort(c.New.Host, c.New.Port),
				c.Old.Route, c.Old.Reason, c.New.Route, c.New.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, d.Summary)
	return err
}
