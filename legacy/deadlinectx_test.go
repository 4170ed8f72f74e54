package legacy

import (
	"context"
	"errors"
	"fmt"
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
			var q deadlines
			now := time.Now()
			dl := now.Add(time.Second)
			dc := q.start(caller, now, dl)
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
			var q deadlines
			now := time.Now()
			dc := q.start(caller, now, now.Add(time.Second))
			defer dc.release()
			time.Sleep(time.Second)
			synctest.Wait()
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
	t.Run("deadline passed at start", func(t *testing.T) {
		var q deadlines
		now := time.Now()
		dc := q.start(caller, now, now)
		defer dc.release()
		select {
		case <-dc.Done():
		default:
			t.Fatal("Done not closed for a deadline that had passed")
		}
		if !errors.Is(dc.Err(), context.DeadlineExceeded) || q.head != nil || q.timer != nil {
			t.Fatalf("Err() = %v, pending %v, timer %v; want DeadlineExceeded, nothing pending, no timer", dc.Err(), q.head, q.timer)
		}
	})
	t.Run("released", func(t *testing.T) {
		for _, asked := range []bool{true, false} {
			var q deadlines
			now := time.Now()
			dc := q.start(caller, now, now.Add(time.Hour))
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
			if q.head != nil || q.tail != nil {
				t.Fatalf("released context still pending (asked before: %v)", asked)
			}
		}
	})
}

// TestDeadlines: many contexts on one deadlines each end at their own
// deadline, whatever the order they started in, when contexts before them
// were released, and when the timer was armed for a context released
// since; released contexts never end with DeadlineExceeded, and nothing
// stays pending.
func TestDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q deadlines
		t0 := time.Now()
		type started struct {
			name    string
			release time.Duration // after t0; 0: never released
			dc      *deadlineCtx
			ended   time.Duration // after t0, seen by a watcher
			err     error
		}
		// start at, name, timeout, release at
		plan := []struct {
			at      time.Duration
			name    string
			timeout time.Duration
			release time.Duration
		}{
			{0, "long", 5 * time.Second, 0},
			{0, "shorter, started later", 2 * time.Second, 0},
			{0, "released first", time.Second, 500 * time.Millisecond},
			{600 * time.Millisecond, "after a released head", 1500 * time.Millisecond, 0},
			{3 * time.Second, "after a fire", time.Second, 0},
			{3 * time.Second, "released after a fire", 3 * time.Second, 3500 * time.Millisecond},
		}
		all := make([]*started, len(plan))
		for i, p := range plan {
			s := &started{name: p.name, release: p.release}
			all[i] = s
			go func() {
				time.Sleep(p.at)
				now := time.Now()
				s.dc = q.start(context.Background(), now, now.Add(p.timeout))
				done := s.dc.Done()
				if p.release > 0 {
					go func() {
						time.Sleep(p.release - p.at)
						s.dc.release()
					}()
				}
				<-done
				s.ended, s.err = time.Since(t0), s.dc.Err()
			}()
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for i, s := range all {
			want, wantErr := plan[i].at+plan[i].timeout, context.DeadlineExceeded
			if s.release > 0 {
				want, wantErr = s.release, context.Canceled
			}
			if s.ended != want || !errors.Is(s.err, wantErr) {
				t.Errorf("%s: ended at %v with %v; want %v with %v", s.name, s.ended, s.err, want, wantErr)
			}
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.head != nil || q.tail != nil || !q.at.IsZero() {
			t.Errorf("after every deadline: pending %v…%v, timer at %v; want nothing pending and no timer", q.head, q.tail, q.at)
		}
	})
}

// BenchmarkDeadlineCtx is a command's timeout as the adapter bounds a call
// without a context, waited on as an SSH client does (Err, then Done) and
// released, against context.WithDeadline's; with one goroutine and with
// several at once.
func BenchmarkDeadlineCtx(b *testing.B) {
	var q deadlines
	impls := []struct {
		name string
		op   func() <-chan struct{}
	}{
		{"deadlineCtx", func() <-chan struct{} {
			now := time.Now()
			dc := q.start(context.Background(), now, now.Add(DefaultCommandTimeout))
			_ = dc.Err()
			d := dc.Done()
			dc.release()
			return d
		}},
		{"context.WithDeadline", func() <-chan struct{} {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(DefaultCommandTimeout))
			_ = ctx.Err()
			d := ctx.Done()
			cancel()
			return d
		}},
	}
	for _, impl := range impls {
		b.Run(fmt.Sprintf("impl=%s", impl.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				<-impl.op()
			}
		})
		b.Run(fmt.Sprintf("impl=%s/parallel", impl.name), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					<-impl.op()
				}
			})
		})
	}
}
