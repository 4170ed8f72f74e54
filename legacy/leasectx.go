package legacy

import (
	"context"
	"sync"
	"time"
)

// leaseCtx bounds a lease wait by a deadline over the caller's context,
// and arms the timer of that deadline only when something asks whether
// the context has ended (Done or Err). pool.Pool leases a free slot
// without asking, so the lease of an old-style call that does not wait
// costs no timer: context.WithDeadline arms one (a clock read, a timer
// added to and removed from the runtime's heap, ~0.4 µs, and ~250 B) for
// every lease, twice per call, although almost none of them waits. A wait
// asks at once and is bounded exactly as under context.WithDeadline.
//
// Deadline and Value need no timer; a context derived from a leaseCtx
// arms it (context asks for Done). release must be called when the lease
// wait is over; the context has ended after it.
//
// It is not a deadlineCtx: the caller's context may end (a request's), and
// once armed a leaseCtx leaves that to context.WithDeadline, which ends its
// child within the caller's cancel. deadlineCtx can own its Done channel
// and leave its deadline to the adapter's shared deadlines only because
// its caller's never ends; taking the caller's end there too would need
// context.AfterFunc, which ends the child later, on a goroutine of its
// own, or both mechanisms in one larger struct on every command.
type leaseCtx struct {
	context.Context // the caller's: values and cancellation
	deadline        time.Time

	once   sync.Once
	armed  context.Context // context.WithDeadline(Context, deadline), once asked
	cancel context.CancelFunc
}

// newLeaseCtx returns ctx bounded by deadline, with no timer armed yet.
func newLeaseCtx(ctx context.Context, deadline time.Time) *leaseCtx {
	return &leaseCtx{Context: ctx, deadline: deadline}
}

// Deadline returns the lease's deadline (the caller's ends no sooner).
func (c *leaseCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done arms the deadline and returns the channel closed when the lease
// wait must end.
func (c *leaseCtx) Done() <-chan struct{} { return c.arm().Done() }

// Err arms the deadline and returns why the lease wait must end, or nil.
func (c *leaseCtx) Err() error { return c.arm().Err() }

func (c *leaseCtx) arm() context.Context {
	c.once.Do(func() { c.armed, c.cancel = context.WithDeadline(c.Context, c.deadline) })
	return c.armed
}

// release stops the deadline's timer if it was armed. A leaseCtx not yet
// armed is ended instead (Done closed, Err context.Canceled), without a
// timer, for anything that kept it past the wait.
func (c *leaseCtx) release() {
	c.once.Do(func() { c.armed = endedCtx })
	if c.cancel != nil {
		c.cancel()
	}
}

// endedCtx is a context that has ended: what a released leaseCtx that was
// never armed reports.
var endedCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
