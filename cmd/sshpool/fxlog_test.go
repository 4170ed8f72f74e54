package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.uber.org/fx/fxevent"
)

// TestFxLogger: with -v, serve logs fx's events through slog, routine
// ones and failures. (Without -v fx logs nothing and a failure reaches the
// user once, as the command's error: TestServeStartupErrorIsTheCause.)
func TestFxLogger(t *testing.T) {
	var buf bytes.Buffer
	l := fxLogger(&buf)
	l.LogEvent(&fxevent.Provided{ConstructorName: "app.newAdmin()", OutputTypeNames: []string{"*app.Admin"}})
	l.LogEvent(&fxevent.OnStartExecuted{FunctionName: "app.(*Admin).Start", Err: errors.New("admin listen: busy")})
	out := buf.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "admin listen: busy") {
		t.Errorf("the failed hook is not logged:\n%s", out)
	}
	if !strings.Contains(out, "*app.Admin") {
		t.Errorf("the routine event is not logged:\n%s", out)
	}
}
