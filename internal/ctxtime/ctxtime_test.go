package ctxtime_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/internal/ctxtime"
)

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := ctxtime.Sleep(context.Background(), time.Second); err != nil || time.Since(start) != time.Second {
			t.Fatalf("full sleep: %v after %v, want nil after 1s", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start = time.Now()
		if err := ctxtime.Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("ended by ctx: %v after %v, want DeadlineExceeded after 100ms", err, time.Since(start))
		}
	})
}
