package legacy

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestDeadlineCtx: a deadlineCtx reports its deadline and the caller's
// values, ends at its deadline (DeadlineExceeded, and so does a context
// derived from it) or at release (Canceled), whichever comes first, asked
// before or after, and keeps the first reason.
func TestDeadlineCtx(t *testing.T) {
	caller := context.WithValue(context.Background(), ctxKey{}, "v")
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			dl := time.Now().Add(time.Second)
			dc := newDeadlineCtx(caller, dl)
			defer dc.release()
			if got, ok := dc.Deadline(); !ok || !got.Equal(dl) || dc.Value(ctxKey{}) != "v" {
				t.Fatalf("Deadline() = %v, %v, Value %v; want %v, true, the caller's", got, ok, dc.Value(ctxKey{}), dl)
			}
			child, cancel := context.WithCancel(dc)
			defer cancel()
			time.Sleep(time.Second - time.Nanosecond)
			synctest.Wait()
			if dc.Err() != nil || child.Err() != nil {
				t.Fatalf("before the deadline: %v, child %v", dc.Err(), child.Err())
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			select {
			case <-dc.Done():
			default:
				t.Fatal("Done not closed at the deadline")
			}
			if !errors.Is(dc.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) ||
				!errors.Is(context.Cause(dc), context.DeadlineExceeded) {
				t.Fatalf("at the deadline: %v, child %v, cause %v; want DeadlineExceeded", dc.Err(), child.Err(), context.Cause(dc))
			}
			dc.release()
			if !errors.Is(dc.Err(), context.DeadlineExceeded) {
				t.Fatalf("release after the deadline changed Err to %v", dc.Err())
			}
		})
	})
	t.Run("deadline passed before asked", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			dc := newDeadlineCtx(caller, time.Now().Add(time.Second))
			defer dc.release()
			time.Sleep(time.Second)
			if !errors.Is(dc.Err(), context.DeadlineExceeded) {
				t.Fatalf("Err() = %v, want DeadlineExceeded", dc.Err())
			}
			select {
			case <-dc.Done():
			default:
				t.Fatal("Done not closed after the deadline")
			}
		})
	})
	t.Run("released", func(t *testing.T) {
		for _, asked := range []bool{true, false} {
			dc := newDeadlineCtx(caller, time.Now().Add(time.Hour))
			var done <-chan struct{}
			if asked {
				done = dc.Done()
				if dc.Err() != nil {
					t.Fatalf("Err() = %v before the deadline", dc.Err())
				}
			}
			dc.release()
			if !asked {
				done = dc.Done()
			}
			select {
			case <-done:
			default:
				t.Fatalf("Done not closed after release (asked before: %v)", asked)
			}
			if !errors.Is(dc.Err(), context.Canceled) {
				t.Fatalf("Err() after release = %v, want context.Canceled (asked before: %v)", dc.Err(), asked)
			}
		}
	})
}

// BenchmarkDeadlineCtx is a command's timeout as the adapter bounds a call
// without a context, waited on as an SSH client does (Err, then Done) and
// released, against context.WithDeadline's.
func BenchmarkDeadlineCtx(b *testing.B) {
	var sink <-chan struct{}
	b.Run("impl=deadlineCtx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dc := newDeadlineCtx(context.Background(), time.Now().Add(DefaultCommandTimeout))
			_ = dc.Err()
			sink = dc.Done()
			dc.release()
		}
	})
	b.Run("impl=context.WithDeadline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(DefaultCommandTimeout))
			_ = ctx.Err()
			sink = ctx.Done()
			cancel()
		}
	})
	_ = sink
}
