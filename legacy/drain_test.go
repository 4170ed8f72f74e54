package legacy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/legacy"
)

// stopper is a provider that stops gracefully.
type stopper interface {
	legacy.ConnectionProvider
	legacy.Stopper
}

// drainCases are the providers Stop drains: the legacy pool, the adapter,
// and the router over both (which stops both).
func drainCases(t *testing.T, e *env) map[string]stopper {
	client, _ := newFlags(t, flagSet(100, false))
	return map[string]stopper{
		"legacy":  e.legacyPool(t),
		"adapter": adaptr(t, e),
		"router":  legacy.NewRouter(e.legacyPool(t), adaptr(t, e), client),
	}
}

// TestStopDrains: Stop refuses new calls at once with a "shutting down"
// error, lets the command in flight finish, and returns when it has; the
// old pool's Stop closed every connection at once (SIGTERM with 49 legacy
// commands in flight cut 49 of 49).
func TestStopDrains(t *testing.T) {
	for _, name := range []string{"legacy", "adapter", "router"} {
		t.Run(name, func(t *testing.T) {
			e, release := newBlockingEnv(t)
			p := drainCases(t, e)[name]
			s := e.server("drain-" + name)
			c := connect(t, p, s, false)
			running := make(chan error, 1)
			go func() { _, err := c.ExecuteCommand(blockCommand); running <- err }()
			waitFor(t, func() bool { return c.GetHealthStatus().InUse == 1 })
			stopped := make(chan error, 1)
			go func() { stopped <- p.StopContext(context.Background()) }()
			waitFor(t, func() bool {
				_, err := c.ExecuteCommand("true")
				return errors.Is(err, legacy.ErrPoolStopped)
			})
			_, err := c.ExecuteCommand("true")
			if !strings.HasPrefix(err.Error(), "connection is not healthy: ") || !strings.Contains(err.Error(), "shutting down") ||
				failure.Classify(err) != failure.PoolClosed {
				t.Fatalf("new command while stopping: %v", err)
			}
			if _, err := p.GetOrCreateConnection(e.server("late-"+name), false); !errors.Is(err, legacy.ErrPoolStopped) {
				t.Fatalf("new connection while stopping: %v", err)
			}
			select {
			case err := <-stopped:
				t.Fatalf("Stop returned %v with a command in flight", err)
			case <-time.After(20 * time.Millisecond):
			}
			release()
			if err := <-running; err != nil {
				t.Fatalf("the command in flight was cut: %v", err)
			}
			if err := <-stopped; err != nil {
				t.Fatalf("Stop: %v", err)
			}
		})
	}
}

// TestStopCutsAtDeadline: a command that outlives the drain deadline is
// reported, by key, in a *DrainError; on the legacy pool its connection is
// then closed.
func TestStopCutsAtDeadline(t *testing.T) {
	e, _ := newBlockingEnv(t)
	for name, p := range drainCases(t, e) {
		t.Run(name, func(t *testing.T) {
			s := e.server("cut-" + name)
			c := connect(t, p, s, false)
			running := make(chan error, 1)
			go func() { _, err := c.ExecuteCommand(blockCommand); running <- err }()
			waitFor(t, func() bool { return c.GetHealthStatus().InUse == 1 })
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			err := p.StopContext(ctx)
			var de *legacy.DrainError
			if !errors.As(err, &de) || de.Cut != 1 || de.Keys[c.Key()] != 1 || !errors.Is(err, context.DeadlineExceeded) ||
				!strings.Contains(err.Error(), "1 running commands cut ("+c.Key()+": 1)") {
				t.Fatalf("StopContext = %v; want a DrainError cutting 1 command on %s", err, c.Key())
			}
			if name == "legacy" {
				if err := <-running; failure.Classify(err) != failure.ConnectionLost && failure.Classify(err) != failure.PoolClosed {
					t.Fatalf("the cut command: %v (kind %v)", err, failure.Classify(err))
				}
			}
		})
	}
}
