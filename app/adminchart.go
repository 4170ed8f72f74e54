package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// chartView is the page's small chart of the pool's snapshot history
// (pool.History, one snapshot per health interval, and the current one):
// open connections, leases outstanding and Gets waiting, as inline SVG
// polylines drawn by the template.
type chartView struct {
	Width, Height int
	// Max is the value at the top of the chart.
	Max int
	// From and To are the first and last snapshot's times.
	From, To time.Time
	Lines    []chartLine
}

// chartLine is one series: its SVG points and its last value.
type chartLine struct {
	Name, Class string
	Points      string
	Last        int64
}

const (
	chartWidth  = 600
	chartHeight = 120
)

func chartOf(history []pool.Snapshot, now pool.Snapshot) chartView {
	snaps := append(history[:len(history):len(history)], now)
	if len(snaps) == 1 { // one point draws no line: hold it across
		snaps = append(snaps, now)
	}
	c := chartView{Width: chartWidth, Height: chartHeight, Max: 1, From: snaps[0].Time, To: now.Time}
	series := []struct {
		name, class string
		value       func(pool.Snapshot) int64
	}{
		{"connections open", "s-open", func(s pool.Snapshot) int64 { return int64(s.Total) }},
		{"leases outstanding", "s-leases", func(s pool.Snapshot) int64 { return s.LeasesOutstanding }},
		{"Gets waiting", "s-waiting", func(s pool.Snapshot) int64 { return int64(s.Waiting) }},
	}
	for _, s := range snaps {
		for _, sr := range series {
			c.Max = max(c.Max, int(sr.value(s)))
		}
	}
	for _, sr := range series {
		var b strings.Builder
		for i, s := range snaps {
			x := 0.0
			if len(snaps) > 1 {
				x = float64(i) * chartWidth / float64(len(snaps)-1)
			}
			y := chartHeight - float64(sr.value(s))*(chartHeight-4)/float64(c.Max) - 2
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		c.Lines = append(c.Lines, chartLine{Name: sr.name, Class: sr.class, Points: strings.TrimSpace(b.String()), Last: sr.value(now)})
	}
	return c
}
