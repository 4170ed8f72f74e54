package faulttest_test

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// load runs n goroutines that call p.Run(key, cmd) in a loop, each call
// bounded by callTimeout, until Stop or maxCalls calls each, pausing 20ms
// after a failure. It records when every call started and ended and how.
type load struct {
	stop atomic.Bool
	wg   sync.WaitGroup

	mu    sync.Mutex // guards calls
	calls []call
}

// call is one finished Run.
type call struct {
	start, end time.Time
	err        error
}

const (
	callTimeout = 3 * time.Second
	maxCalls    = 2000
)

// startLoad starts the load.
func startLoad(p pool.Pool, n int, cmd string) *load {
	l := &load{}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < maxCalls && !l.stop.Load(); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				start := time.Now()
				_, err := p.Run(ctx, key, cmd)
				cancel()
				l.record(call{start, time.Now(), err})
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

func (l *load) record(c call) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

// Stop ends the load and waits for every goroutine.
func (l *load) Stop() {
	l.stop.Store(true)
	l.wg.Wait()
}

// firstSuccessAfter returns the end of the first successful call that
// started at or after t.
func (l *load) firstSuccessAfter(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, c := range l.calls {
		if c.err == nil && !c.start.Before(t) && (first.IsZero() || c.end.Before(first)) {
			first = c.end
		}
	}
	return first, !first.IsZero()
}

// errors returns the errors of every failed call, and separately those
// of the calls that were in flight at t (started before it).
func (l *load) errors(t time.Time) (all, inFlight []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls {
		if c.err == nil {
			continue
		}
		all = append(all, c.err)
		if c.start.Before(t) {
			inFlight = append(inFlight, c.err)
		}
	}
	return all, inFlight
}
