package legacy

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is a command's context over a caller's context that never
// ends (its Done is nil, as context.Background's), ending at its deadline
// or at release, whichever comes first: context.WithDeadline's behaviour
// at less cost, for the old API's calls without a context. With nothing to
// propagate from the caller, it needs no registration with it and no
// cancel closures; its Done channel is made when first asked (an SSH
// client waiting on the command asks at once), and its deadline is kept by
// the deadlines it was started on, which end every pending context of an
// adapter with one runtime timer.
//
// A context derived from it is watched by a goroutine of the context
// package (it is not one of that package's types), so it is not handed to
// callbacks that may derive from it (WithClient): those get
// context.WithDeadline's.
type deadlineCtx struct {
	context.Context // the caller's: values only, it never ends
	deadline        time.Time

	q          *deadlines
	prev, next *deadlineCtx // q's pending list; guarded by q.mu
	queued     bool         // in q's pending list; guarded by q.mu

	mu   sync.Mutex
	done chan struct{} // made when first asked; closed when err is set
	err  error
}

// Deadline returns the command's deadline.
func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns the channel closed when the command must end.
func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

// Err returns context.DeadlineExceeded after the deadline,
// context.Canceled after release, else nil.
func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// release ends the context (context.Canceled, unless it ended before) and
// takes it off its deadlines.
func (c *deadlineCtx) release() {
	c.end(context.Canceled)
	c.q.remove(c)
}

// end ends the context with err unless it has ended.
func (c *deadlineCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
}

// deadlines ends the deadlineCtxs started on it at their deadlines, with
// one runtime timer for all of them.
//
// A runtime timer per command is what context.WithDeadline costs, and
// more than its size suggests: adding a timer earlier than any on its
// processor's heap (as a command's is when the heap is empty) wakes
// another thread to watch it (Go's runtime/time.go, (*timer).maybeAdd ->
// wakeNetPoller -> wakep), a futex wake and a spinning thread per
// command, which on a few cores is a few percent of a command's CPU
// (BenchmarkAdapterCall with an SSH client's waiting shape). Here the
// timer is armed at or before the earliest pending deadline and left
// there when contexts are released: it fires about once per command
// timeout in steady use, ends what is due and arms itself for the
// earliest deadline still pending. Starting and releasing a context is a
// short critical section on mu.
//
// The zero value is ready to use. A pending timer keeps the deadlines
// reachable until it fires, at the latest one command timeout after the
// last command started.
type deadlines struct {
	mu         sync.Mutex
	head, tail *deadlineCtx // pending contexts, in start order
	timer      *time.Timer  // calls fire; nil until first armed
	at         time.Time    // when timer fires; zero when not armed
}

// start returns a context over parent, whose Done must be nil, that ends
// at deadline or at release. now is the current time.
func (q *deadlines) start(parent context.Context, now, deadline time.Time) *deadlineCtx {
	c := &deadlineCtx{Context: parent, deadline: deadline, q: q}
	if !deadline.After(now) {
		c.err = context.DeadlineExceeded
		return c
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	c.queued, c.prev = true, q.tail
	if q.tail != nil {
		q.tail.next = c
	} else {
		q.head = c
	}
	q.tail = c
	if q.at.IsZero() || deadline.Before(q.at) {
		q.arm(deadline, deadline.Sub(now))
	}
	return c
}

// arm sets the timer to fire after d, at. Call with mu held.
func (q *deadlines) arm(at time.Time, d time.Duration) {
	q.at = at
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.fire)
		return
	}
	q.timer.Reset(d)
}

// remove takes c off the pending list if it is still on it.
func (q *deadlines) remove(c *deadlineCtx) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c.queued {
		q.unlink(c)
	}
}

// unlink takes c off the pending list. Call with mu held.
func (q *deadlines) unlink(c *deadlineCtx) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		q.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		q.tail = c.prev
	}
	c.prev, c.next, c.queued = nil, nil, false
}

// fire ends the pending contexts whose deadline has come and arms the
// timer for the earliest one left. A fire that finds nothing due (the
// timer was moved meanwhile) only arms it again.
func (q *deadlines) fire() {
	q.mu.Lock()
	now := time.Now()
	var due []*deadlineCtx
	var next time.Time
	for c := q.head; c != nil; {
		n := c.next
		if !c.deadline.After(now) {
			q.unlink(c)
			due = append(due, c)
		} else if next.IsZero() || c.deadline.Before(next) {
			next = c.deadline
		}
		c = n
	}
	if next.IsZero() {
		q.at = time.Time{}
	} else {
		q.arm(next, next.Sub(now))
	}
	q.mu.Unlock()
	for _, c := range due {
		c.end(context.DeadlineExceeded)
	}
}
