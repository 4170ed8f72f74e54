package legacy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/ctxtime"
	"github.com/sshpool/sshpool/pool"
)

// Session-limit backoff: a session the server refused (past its
// MaxSessions) is tried again after a pause starting at sessionBackoffBase
// and doubling up to sessionBackoffMax, with jitter, until the command's
// deadline. The old pool opened a session per command without limit and
// failed the excess (12 % of commands at 8 goroutines against a stock
// sshd, 93 % at 32); a rollback lands exactly when load is high, so here
// the excess waits instead.
const (
	sessionBackoffBase = 2 * time.Millisecond
	sessionBackoffMax  = 100 * time.Millisecond
)

// reconnectRetries is how often a command runs again after its connection
// turned out dead before the command started (pool.LostBeforeStart) on the
// legacy pool, which holds one connection per key: once, on a connection
// re-established in place, as the old pool's manager reconnected once when
// it could not open a session.
const reconnectRetries = 1

func reconnectLimit() int { return reconnectRetries }

// retryCommand calls try until it succeeds or fails for good: a
// session-limit refusal is tried again after a backoff (bounded by ctx),
// a failure that lost the connection before the command started is tried
// again up to lostRetries() times (try then gets another connection), and
// any other failure is returned.
func retryCommand(ctx context.Context, lostRetries func() int, try func() error) error {
	refusals, lost := 0, 0
	for {
		err := try()
		switch {
		case err == nil:
			return nil
		case classify(err) == failure.SessionLimit:
			refusals++
			if werr := ctxtime.Sleep(ctx, jitter(backoff(sessionBackoffBase, sessionBackoffMax, refusals))); werr != nil {
				return notStarted(fmt.Errorf("legacy: no session slot before the deadline after %d refusals (server MaxSessions): %w (last refusal: %v)",
					refusals, werr, err))
			}
		case pool.LostBeforeStart(err) && lost < lostRetries():
			lost++
		default:
			return err
		}
	}
}

// backoff returns base doubled n-1 times, capped at limit.
func backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
