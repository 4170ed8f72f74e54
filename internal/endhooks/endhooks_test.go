package endhooks

import (
	"strings"
	"testing"
)

// TestHooks: callbacks registered before End run once, at End; one
// registered after End runs at once; a second End runs nothing again.
func TestHooks(t *testing.T) {
	var h Hooks
	var runs []string
	h.NotifyEnd(func() { runs = append(runs, "a") })
	h.NotifyEnd(func() { runs = append(runs, "b") })
	if len(runs) != 0 {
		t.Fatalf("ran before End: %v", runs)
	}
	h.End()
	h.NotifyEnd(func() { runs = append(runs, "late") })
	h.End()
	if got := strings.Join(runs, ","); got != "a,b,late" {
		t.Errorf("runs = %s, want a,b,late", got)
	}
}
