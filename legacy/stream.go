package legacy

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// Stream line prefixes, the old pool's: every line of standard output is
// sent as "[OUT] line", every line of standard error as "[ERR] line".
const (
	PrefixOut = "[OUT] "
	PrefixErr = "[ERR] "
)

// maxLineBytes splits longer lines into several (the old pool's
// bufio.Scanner stopped reading a stream at its first line over 64 KiB,
// silently losing the rest of it).
const maxLineBytes = 64 << 10

// lineQueue carries a stream's lines from the session's copiers to the
// caller's channel without ever blocking the copiers: a reader that does
// not keep up must not stall the remote command or the connection. Lines
// beyond the bound are dropped and counted; the old pool dropped them
// silently whenever the channel was full.
type lineQueue struct {
	max      int
	wake     chan struct{} // size 1: a line was pushed
	finished chan struct{} // closed by finish: no more lines will come

	mu      sync.Mutex // guards lines, dropped and done
	lines   []string
	dropped int64
	done    bool
}

func newLineQueue(max int) *lineQueue {
	return &lineQueue{max: max, wake: make(chan struct{}, 1), finished: make(chan struct{})}
}

// push queues line, or counts it dropped when the queue is full.
func (q *lineQueue) push(line string) {
	q.mu.Lock()
	if len(q.lines) >= q.max {
		q.dropped++
		q.mu.Unlock()
		return
	}
	q.lines = append(q.lines, line)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop returns the oldest line; ok is false when the queue is empty.
func (q *lineQueue) pop() (line string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.lines) == 0 {
		return "", false
	}
	line = q.lines[0]
	q.lines[0] = ""
	q.lines = q.lines[1:]
	return line, true
}

// finish marks the end of the stream. It is idempotent.
func (q *lineQueue) finish() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.done {
		q.done = true
		close(q.finished)
	}
}

// abandon counts n lines and every queued line dropped.
func (q *lineQueue) abandon(n int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dropped += n + int64(len(q.lines))
	q.lines = nil
}

func (q *lineQueue) droppedLines() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// forward sends queued lines on out, in order, until the stream has
// finished and the queue is empty. It blocks on out as long as the command
// runs (the queue absorbs the output meanwhile); once the command has
// finished, a reader that takes no line for idle, or the end of ctx, makes
// it drop the rest. It returns only when it will send nothing more, so the
// caller may close out afterwards.
func (q *lineQueue) forward(ctx context.Context, out chan<- string, idle time.Duration) {
	s := sender{q: q, out: out, idle: idle, finished: q.finished}
	defer s.stopTimer()
	for {
		line, ok := q.pop()
		if ok {
			if !s.send(ctx, line) {
				q.abandon(1)
				return
			}
			continue
		}
		if s.finished == nil {
			return // finished and empty: finish follows the last push
		}
		select {
		case <-q.wake:
		case <-s.finished:
			s.arm()
		case <-ctx.Done():
			q.abandon(0)
			return
		}
	}
}

// sender is forward's state: the idle timer runs once the stream finished.
type sender struct {
	q        *lineQueue
	out      chan<- string
	idle     time.Duration
	finished <-chan struct{} // nil once seen
	timer    *time.Timer
}

// arm notes that the stream finished and starts the idle timer.
func (s *sender) arm() {
	s.finished = nil
	s.timer = time.NewTimer(s.idle)
}

func (s *sender) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

// send delivers line, or reports false when ctx ended or, after the stream
// finished, the reader took nothing for idle.
func (s *sender) send(ctx context.Context, line string) bool {
	for {
		var expired <-chan time.Time
		if s.timer != nil {
			expired = s.timer.C
		}
		select {
		case s.out <- line:
			if s.timer != nil {
				s.timer.Reset(s.idle)
			}
			return true
		case <-s.finished:
			s.arm()
		case <-expired:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// lineWriter splits what a session copier writes into lines, prefixes them
// and pushes them on a lineQueue; it never blocks. Only one copier writes
// to a lineWriter, so it needs no lock.
type lineWriter struct {
	q       *lineQueue
	prefix  string
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			w.splitLong()
			return n, nil
		}
		w.partial = append(w.partial, p[:i]...)
		w.splitLong()
		w.q.push(w.prefix + string(w.partial))
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// splitLong pushes the partial line's leading maxLineBytes chunks.
func (w *lineWriter) splitLong() {
	for len(w.partial) > maxLineBytes {
		w.q.push(w.prefix + string(w.partial[:maxLineBytes]))
		w.partial = append(w.partial[:0], w.partial[maxLineBytes:]...)
	}
}

// flush pushes a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.partial) > 0 {
		w.q.push(w.prefix + string(w.partial))
		w.partial = nil
	}
}
