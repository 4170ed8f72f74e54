package sshconn_test

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/testenv"
)

// TestTCPKeepAliveOnSocket checks the socket itself: Linux reports in
// /proc/net/tcp whether an established socket's keepalive timer is armed
// (timer 2) and in how many clock ticks (1/100 s) it fires. With a period
// set the timer is armed within that period; with TCP keepalive disabled
// (ssh_config TCPKeepAlive no) no timer is pending.
func TestTCPKeepAliveOnSocket(t *testing.T) {
	for _, tc := range []struct {
		period time.Duration
		armed  bool
	}{{7 * time.Second, true}, {-1, false}} {
		t.Run(fmt.Sprint(tc.period), func(t *testing.T) {
			e := newEnv(t)
			tgt := e.target()
			tgt.TCPKeepAlive = tc.period
			c := mustDial(t, tgt)
			defer c.Close()
			// A retransmit timer (1) takes the field while sent data awaits
			// its ACK; read again until the socket is quiet.
			timer, ticks := clientSocketTimer(t, e.srv.Port())
			for deadline := time.Now().Add(time.Second); timer == 1 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				timer, ticks = clientSocketTimer(t, e.srv.Port())
			}
			if tc.armed && (timer != 2 || ticks <= 0 || ticks > int64(tc.period/(10*time.Millisecond))) {
				t.Fatalf("keepalive %v: timer %d in %d ticks, want the keepalive timer (2) within %v", tc.period, timer, ticks, tc.period)
			}
			if !tc.armed && timer == 2 {
				t.Fatalf("keepalive disabled, but the socket's keepalive timer is armed (%d ticks)", ticks)
			}
		})
	}
}

// clientSocketTimer finds the established IPv4 socket whose remote port is
// port and returns its pending timer kind and expiry in clock ticks.
func clientSocketTimer(t *testing.T, port int) (timer, ticks int64) {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		testenv.Missing(t, "no /proc/net/tcp: %v", err)
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local rem st tx:rx tr:when ...
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || !strings.HasSuffix(fs[2], want) || fs[3] != "01" {
			continue
		}
		tr, when, ok := strings.Cut(fs[5], ":")
		if !ok {
			t.Fatalf("unexpected timer field %q", fs[5])
		}
		timer, _ = strconv.ParseInt(tr, 16, 64)
		ticks, _ = strconv.ParseInt(when, 16, 64)
		return timer, ticks
	}
	t.Fatalf("no established socket to port %d in /proc/net/tcp", port)
	return 0, 0
}
