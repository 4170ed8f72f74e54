package sshconn

import (
	"net"
	"testing"
)

// TestQuickAckOnlyAtStart: TCP_QUICKACK is re-armed after each of the
// first quickAckOps reads and writes of a connection and never after, and
// never when disabled.
func TestQuickAckOnlyAtStart(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	for _, on := range []bool{true, false} {
		tc := newTrackedConn(a, on)
		armed := 0
		if on {
			tc.quickAck = func() { armed++ } // net.Pipe has no socket
		}
		for range 3 * quickAckOps {
			if _, err := tc.Write([]byte{1}); err != nil {
				t.Fatal(err)
			}
		}
		if want := map[bool]int{true: quickAckOps, false: 0}[on]; armed != want {
			t.Errorf("enabled=%t: re-armed %d times over %d writes; want %d", on, armed, 3*quickAckOps, want)
		}
	}
}
