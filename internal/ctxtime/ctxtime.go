// Package ctxtime holds the one timed wait the project's packages share: a
// sleep that a context ends early.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx ends and then returns ctx's error. It
// stops its timer either way.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
