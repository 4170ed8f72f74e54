package legacy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/legacy"
)

// descendants returns the pids of every descendant of pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(data)
		end := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[end+1:])
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if len(fields) > 1 {
			pp, _ := strconv.Atoi(fields[1])
			parent[p] = pp
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// freeze SIGSTOPs every process serving an established connection of the
// sshd whose listener is pid (its descendants), as a server wedged by load
// or swap would be: connections stay open and nothing answers. It returns
// the function that resumes them.
func freeze(t *testing.T, pid int) (resume func()) {
	t.Helper()
	pids := descendants(pid)
	if len(pids) == 0 {
		t.Fatal("sshd has no connection processes to freeze")
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGSTOP)
	}
	resumed := false
	resume = func() {
		if !resumed {
			resumed = true
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGCONT)
			}
		}
	}
	t.Cleanup(resume)
	return resume
}

// TestStalledSSHDCommandTimeout is the regression test for "calls served
// by the legacy pool have no command timeout by default (a 40 s stall of
// sshd held every worker for 40 s); calls routed to the new pool have none
// at all": with sshd frozen, a command on the legacy pool, on the adapter
// and through the router ends with a timeout after the one configured
// command timeout, and works again once sshd resumes.
func TestStalledSSHDCommandTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("real sshd: skipped in -short mode")
	}
	e := newSSHDEnv(t)
	timeout := legacy.WithCommandTimeout(time.Second)
	client, _ := newFlags(t, flagSet(100, false))
	providers := map[string]legacy.ConnectionProvider{
		"legacy":  e.legacyPool(t, timeout),
		"adapter": adaptr(t, e, timeout),
		"router":  legacy.NewRouter(e.legacyPool(t, timeout), adaptr(t, e, timeout), client),
	}
	conns := map[string]*legacy.PooledConnection{}
	for name, p := range providers {
		conns[name] = connect(t, p, e.server("stall-"+name), false)
		if _, err := conns[name].ExecuteCommand("true"); err != nil {
			t.Fatal(err)
		}
	}
	resume := freeze(t, e.sshd.PID())
	errs := make(chan error, len(conns))
	for name, c := range conns {
		go func() {
			_, err := c.ExecuteCommand("echo stalled")
			if failure.Classify(err) != failure.Timeout || !errors.Is(err, context.DeadlineExceeded) {
				err = errors.New(name + ": " + fmtErr(err))
			} else {
				err = nil
			}
			errs <- err
		}()
	}
	for range conns {
		select {
		case err := <-errs:
			if err != nil {
				t.Errorf("want a timeout, got %v", err)
			}
		case <-time.After(waitLimit):
			t.Fatal("a command on the stalled server did not end: no deadline")
		}
	}
	resume()
	for name, c := range conns {
		if out, err := c.ExecuteCommand("echo resumed"); err != nil || out != "resumed\n" {
			t.Errorf("%s after sshd resumed: %q, %v", name, out, err)
		}
	}
}
