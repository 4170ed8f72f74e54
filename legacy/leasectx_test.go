package legacy

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/pool"
)

type ctxKey struct{}

// TestLeaseCtx: a leaseCtx reports its deadline and the caller's values
// without arming a timer, ends at its deadline or with the caller's
// context once asked (and so does a context derived from it), and has
// ended after release whether it was armed or not.
func TestLeaseCtx(t *testing.T) {
	caller := context.WithValue(context.Background(), ctxKey{}, "v")
	t.Run("nothing armed until asked", func(t *testing.T) {
		dl := time.Now().Add(time.Hour)
		lc := newLeaseCtx(caller, dl)
		if got, ok := lc.Deadline(); !ok || !got.Equal(dl) {
			t.Fatalf("Deadline() = %v, %v; want %v, true", got, ok, dl)
		}
		if lc.Value(ctxKey{}) != "v" {
			t.Fatalf("Value = %v, want the caller's", lc.Value(ctxKey{}))
		}
		if lc.armed != nil {
			t.Fatal("Deadline or Value armed the timer")
		}
		if err := lc.Err(); err != nil || lc.armed == nil {
			t.Fatalf("Err() = %v, armed %v; want nil and armed", err, lc.armed != nil)
		}
		lc.release()
		if err := lc.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err() after release = %v, want context.Canceled", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			lc := newLeaseCtx(caller, time.Now().Add(time.Second))
			defer lc.release()
			child, cancel := context.WithCancel(lc)
			defer cancel()
			time.Sleep(time.Second - time.Nanosecond)
			synctest.Wait()
			if lc.Err() != nil || child.Err() != nil {
				t.Fatalf("before the deadline: %v, child %v", lc.Err(), child.Err())
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			select {
			case <-lc.Done():
			default:
				t.Fatal("Done not closed at the deadline")
			}
			if !errors.Is(lc.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
				t.Fatalf("at the deadline: %v, child %v; want DeadlineExceeded", lc.Err(), child.Err())
			}
		})
	})
	t.Run("caller ends first", func(t *testing.T) {
		parent, cancel := context.WithCancel(caller)
		lc := newLeaseCtx(parent, time.Now().Add(time.Hour))
		defer lc.release()
		done := lc.Done()
		cancel()
		<-done
		if !errors.Is(lc.Err(), context.Canceled) {
			t.Fatalf("Err() = %v, want context.Canceled", lc.Err())
		}
	})
	t.Run("released before asked", func(t *testing.T) {
		lc := newLeaseCtx(caller, time.Now().Add(time.Hour))
		lc.release()
		select {
		case <-lc.Done():
		default:
			t.Fatal("Done not closed after release")
		}
		if !errors.Is(lc.Err(), context.Canceled) || lc.cancel != nil || lc.Value(ctxKey{}) != "v" {
			t.Fatalf("after release: Err %v, timer armed %v, Value %v", lc.Err(), lc.cancel != nil, lc.Value(ctxKey{}))
		}
	})
}

// armCheckPool is a LeasePool that leases at once (a nil client) and
// records whether the context it got had armed a timer.
type armCheckPool struct{ armed []bool }

func (p *armCheckPool) Get(ctx context.Context, _ string) (pool.SSHClient, error) {
	lc, ok := ctx.(*leaseCtx)
	p.armed = append(p.armed, !ok || lc.armed != nil)
	return nil, nil
}

func (p *armCheckPool) Release(string, pool.SSHClient) error { return nil }

// TestAdapterLeaseArmsNoTimer: a lease that does not wait costs the
// adapter no timer.
func TestAdapterLeaseArmsNoTimer(t *testing.T) {
	p := &armCheckPool{}
	a := NewAdapter(p, nil)
	defer a.Stop()
	for _, id := range []string{"s1", "s2"} { // two keys: a connected one is returned without a lease
		if _, err := a.GetOrCreateConnection(&Server{ID: id, Host: "10.0.0.1", AppUsername: "app"}, false); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.armed) != 2 || p.armed[0] || p.armed[1] {
		t.Fatalf("leases with an armed timer (or another context): %v", p.armed)
	}
}
