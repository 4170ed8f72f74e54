package app

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// EventLog is a slog.Handler that keeps the most recent records at Info and
// above (pool dials, state changes, evictions, closed connections, leak
// reports, flag and config reloads) for the admin page, and passes every
// record on to the handler it wraps. What it keeps is what the wrapped
// logger would log: the tracers never log secrets.
type EventLog struct {
	next  slog.Handler
	ring  *eventRing
	attrs string // the text of WithAttrs' attributes, with their groups
	group string // the open group, as a key prefix ("a.b.")
}

// Event is one kept log record.
type Event struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	// Attrs are the record's attributes as "key=value" text.
	Attrs string `json:"attrs,omitempty"`
}

// eventRing holds the last events; it is shared by an EventLog and the
// handlers WithAttrs and WithGroup derive from it.
type eventRing struct {
	mu     sync.Mutex // guards events and next
	events []Event    // a ring of len cap once full
	next   int        // where the next event goes once full
	size   int
}

// DefaultEventLogSize is how many events NewEventLog keeps when size <= 0.
const DefaultEventLogSize = 200

// NewEventLog returns a handler keeping the last size records at Info and
// above and passing every record to next.
func NewEventLog(next slog.Handler, size int) *EventLog {
	if size <= 0 {
		size = DefaultEventLogSize
	}
	return &EventLog{next: next, ring: &eventRing{size: size}}
}

// Enabled reports whether next takes the level, or the log keeps it.
func (l *EventLog) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || l.next.Enabled(ctx, level)
}

// Handle keeps r when it is at Info or above and passes it on to next when
// next takes its level.
func (l *EventLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		l.ring.add(Event{Time: r.Time, Level: r.Level.String(), Message: r.Message, Attrs: l.text(r)})
	}
	if !l.next.Enabled(ctx, r.Level) {
		return nil
	}
	return l.next.Handle(ctx, r)
}

// WithAttrs returns a handler adding attrs to every record.
func (l *EventLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *l
	c.next = l.next.WithAttrs(attrs)
	var b strings.Builder
	b.WriteString(l.attrs)
	for _, a := range attrs {
		appendAttr(&b, l.group, a)
	}
	c.attrs = b.String()
	return &c
}

// WithGroup returns a handler qualifying later attributes with name.
func (l *EventLog) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	c := *l
	c.next = l.next.WithGroup(name)
	c.group = l.group + name + "."
	return &c
}

// Events returns the kept events, oldest first.
func (l *EventLog) Events() []Event {
	return l.ring.snapshot()
}

func (l *EventLog) text(r slog.Record) string {
	var b strings.Builder
	b.WriteString(l.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, l.group, a)
		return true
	})
	return strings.TrimSpace(b.String())
}

// appendAttr writes " key=value", flattening groups.
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix + a.Key)
	b.WriteByte('=')
	b.WriteString(v.String())
}

func (r *eventRing) add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) < r.size {
		r.events = append(r.events, e)
		return
	}
	r.events[r.next] = e
	r.next = (r.next + 1) % r.size
}

func (r *eventRing) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, 0, len(r.events))
	out = append(out, r.events[r.next:]...)
	return append(out, r.events[:r.next]...)
}
