package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.uber.org/fx/fxevent"
)

// TestFxLogger: serve logs fx's events through slog: failures always,
// routine events only with -v.
func TestFxLogger(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var buf bytes.Buffer
		l := fxLogger(verbose, &buf)
		l.LogEvent(&fxevent.Provided{ConstructorName: "app.newAdmin()", OutputTypeNames: []string{"*app.Admin"}})
		l.LogEvent(&fxevent.OnStartExecuted{FunctionName: "app.(*Admin).Start", Err: errors.New("admin listen: busy")})
		out := buf.String()
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "admin listen: busy") {
			t.Errorf("verbose=%v: the failed hook is not logged:\n%s", verbose, out)
		}
		if got := strings.Contains(out, "*app.Admin"); got != verbose {
			t.Errorf("verbose=%v: routine event logged=%v:\n%s", verbose, got, out)
		}
	}
}
