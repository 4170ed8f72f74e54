package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// printCompare prints the comparison as a markdown table: throughput,
// latency percentiles and the ratio to the pool; a contender that did not
// run, or whose every command failed, says so instead of showing zeros.
func printCompare(w io.Writer, r compareResult) {
	fmt.Fprintf(w, "%d commands (%q on %s) per contender, concurrency %d, %d interleaved rounds\n\n",
		r.Count, r.Command, r.Key, r.Concurrency, r.Rounds)
	fmt.Fprintln(w, "| contender | ops/s | p50 | p99 | vs pool | failed |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	for _, c := range r.Contenders {
		switch {
		case c.Skipped != "":
			fmt.Fprintf(w, "| %s | not run: %s | | | | |\n", c.Name, mdCell(c.Skipped))
		case c.Succeeded == 0 && c.Failed == 0:
			fmt.Fprintf(w, "| %s | not run: interrupted | | | | |\n", c.Name)
		case c.Succeeded == 0:
			fmt.Fprintf(w, "| %s | all %d failed: %s | | | | %d |\n", c.Name, c.Failed, mdCell(c.Errors[0]), c.Failed)
		default:
			ratio := "–"
			if c.RatioToPool > 0 {
				ratio = fmt.Sprintf("%.2f×", c.RatioToPool)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d |\n", c.Name, fmtRate(c.OpsPerSecond),
				fmtLatency(c.P50Seconds), fmtLatency(c.P99Seconds), ratio, c.Failed)
		}
	}
	for _, c := range r.Contenders {
		if c.Failed > 0 && c.Succeeded > 0 {
			fmt.Fprintf(w, "\n%s: %d of %d commands failed, first: %s\n", c.Name, c.Failed, c.Failed+c.Succeeded, c.Errors[0])
		}
	}
	if interrupted(r.Contenders) {
		fmt.Fprintln(w, "\ninterrupted: the figures are of the commands that ran")
	}
}

// fmtRate prints commands per second with the digits that matter: a slow
// contender's 0.25/s is not "0".
func fmtRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// fmtLatency prints seconds as a duration with three significant digits.
func fmtLatency(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// mdCell makes text safe for one markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "…"
	}
	return s
}

// writeChart writes a bar chart of each contender's throughput as SVG
// (gonum.org/v1/plot), on a log scale (the contenders differ by orders of
// magnitude) with each bar's figure on it. A contender that did not run,
// or failed every command, has no bar and is labelled so.
func writeChart(path string, r compareResult) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("sshpool bench --compare: %d × %q, concurrency %d", r.Count, r.Command, r.Concurrency)
	p.Y.Label.Text = "commands per second (log scale, higher is better)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	var (
		values = make(plotter.Values, len(r.Contenders))
		names  = make([]string, len(r.Contenders))
		labels plotter.XYLabels
		top    = 1.0
	)
	for i, c := range r.Contenders {
		names[i] = strings.Replace(c.Name, " ", "\n", 1)
		// A log scale has no zero: the bars stand on chartFloor.
		values[i] = math.Max(c.OpsPerSecond-chartFloor, 0)
		label := fmtRate(c.OpsPerSecond) + "/s"
		switch {
		case c.Skipped != "" || c.Succeeded == 0 && c.Failed == 0:
			label = "not run"
		case c.Succeeded == 0:
			label = "all failed"
		case c.RatioToPool > 0:
			label += fmt.Sprintf(" (%.2f×)", c.RatioToPool)
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: values[i] + chartFloor})
		labels.Labels = append(labels.Labels, label)
		top = math.Max(top, values[i]+chartFloor)
	}
	bars, err := plotter.NewBarChart(values, vg.Points(32))
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	bars.Color = color.RGBA{R: 0x2b, G: 0x6c, B: 0xb0, A: 0xff}
	bars.LineStyle.Width = 0
	floor := make(plotter.Values, len(values))
	for i := range floor {
		floor[i] = chartFloor
	}
	base, err := plotter.NewBarChart(floor, vg.Points(32)) // not drawn: only stood on
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	bars.StackOn(base)
	texts, err := plotter.NewLabels(labels)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	for i := range texts.TextStyle {
		texts.TextStyle[i].XAlign = draw.XCenter
		texts.TextStyle[i].YAlign = draw.YBottom
	}
	p.Add(plotter.NewGrid(), bars, texts)
	p.NominalX(names...)
	// Room for the outer bars' labels.
	p.X.Min, p.X.Max = -0.7, float64(len(names))-0.3
	p.Y.Min, p.Y.Max = chartFloor, top*3
	if err := p.Save(vg.Points(720), vg.Points(360), path); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// chartFloor is the bottom of the chart's log scale, in commands per second.
const chartFloor = 1
