package capture

import (
	"errors"
	"io"
	"sync"
)

// ErrLimit is returned by Write and ReadFrom once output has passed the
// buffer's limit (SetLimit). The bytes up to the limit are kept.
var ErrLimit = errors.New("capture: output limit reached")

// chunkSize is the size of the pooled chunks ReadFrom reads into: big
// enough for most commands' whole output in one read, small enough to keep
// a few per P for ever (x/crypto delivers at most 32 KiB per packet).
const chunkSize = 16 << 10

// chunks holds the read chunks, shared by every Buffer.
var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// Buffer collects output. It is safe for concurrent use: x/crypto copies a
// session's stdout and stderr on two goroutines, which may write to one
// Buffer (combined output) while a caller takes the result. The zero value
// is an empty, unlimited Buffer ready to use; a Buffer must not be copied
// after first use.
type Buffer struct {
	// mu guards every field below. It is never held while reading from a
	// source: a blocked ReadFrom must not stall the other stream's writes.
	mu      sync.Mutex
	buf     []byte
	limit   int64  // most bytes kept; 0 means no limit
	over    bool   // output past limit was refused
	taken   bool   // Take was called: later output is dropped
	onLimit func() // called once when output first passes limit
}

// SetLimit limits the Buffer to n bytes (n <= 0 means no limit). When
// output first passes the limit, the Buffer keeps the first n bytes, calls
// onLimit (if not nil) once on the writing goroutine without holding its
// lock, and returns ErrLimit from that write and every later one. Call it
// before the first write.
func (b *Buffer) SetLimit(n int64, onLimit func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limit, b.onLimit = max(n, 0), onLimit
}

// Write appends p. It returns ErrLimit, with the number of bytes kept,
// when p passes the limit. After Take it drops p and reports success.
func (b *Buffer) Write(p []byte) (int, error) { return b.add(p) }

// ReadFrom appends what it reads from r until r returns io.EOF (not
// reported) or another error, or the limit is passed (ErrLimit). It reads
// through a pooled chunk and takes the lock only to append what it read,
// so it allocates nothing when r has nothing to read. It returns the
// number of bytes read from r.
func (b *Buffer) ReadFrom(r io.Reader) (int64, error) {
	chunk := chunks.Get().(*[chunkSize]byte)
	defer chunks.Put(chunk)
	var total int64
	for {
		n, rerr := r.Read(chunk[:])
		total += int64(n)
		if n > 0 {
			if _, err := b.add(chunk[:n]); err != nil {
				return total, err
			}
		}
		switch {
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, rerr
		}
	}
}

// add appends as much of p as the limit allows and reports how much it
// kept; after Take it drops p and reports it all written.
func (b *Buffer) add(p []byte) (int, error) {
	b.mu.Lock()
	if b.taken {
		b.mu.Unlock()
		return len(p), nil
	}
	if b.over {
		b.mu.Unlock()
		return 0, ErrLimit
	}
	kept := len(p)
	if b.limit > 0 {
		kept = int(min(int64(kept), b.limit-int64(len(b.buf))))
	}
	b.grow(kept)
	b.buf = append(b.buf, p[:kept]...)
	if kept == len(p) {
		b.mu.Unlock()
		return kept, nil
	}
	b.over = true
	f := b.onLimit
	b.mu.Unlock()
	if f != nil {
		f()
	}
	return kept, ErrLimit
}

// grow makes room for n more bytes, doubling the capacity as
// bytes.Buffer does (append's growth of large slices, 1.25×, copies a
// large output several times more), but never past the limit. The caller
// holds mu.
func (b *Buffer) grow(n int) {
	need := len(b.buf) + n
	if need <= cap(b.buf) {
		return
	}
	c := max(2*cap(b.buf), need, 64)
	if b.limit > 0 {
		c = int(min(int64(c), b.limit))
	}
	buf := make([]byte, len(b.buf), c)
	copy(buf, b.buf)
	b.buf = buf
}

// Len returns the number of bytes held.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}

// Exceeded reports whether output past the limit was refused.
func (b *Buffer) Exceeded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

// Bytes returns a copy of the bytes held (nil when empty).
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		return nil
	}
	return append([]byte(nil), b.buf...)
}

// String returns the bytes held as a string.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Take returns the bytes held without copying them (nil when empty) and
// detaches them from the Buffer: later output is dropped, so the returned
// slice never changes. Later calls return nil. A session's writers may
// still be running when a caller gives up on it; Take is how the caller
// keeps what arrived so far.
func (b *Buffer) Take() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf
	b.buf, b.taken = nil, true
	if len(out) == 0 {
		return nil
	}
	return out
}

// Stream returns w for use as a session's streamed output: w itself when
// it is a *Buffer, else w behind a ReadFrom over the same pooled chunks,
// so that x/crypto's io.Copy does not allocate its 32 KiB buffer for a
// caller's writer either. w receives the same bytes in the same order, in
// writes of at most 16 KiB.
func Stream(w io.Writer) io.Writer {
	if b, ok := w.(*Buffer); ok {
		return b
	}
	return streamWriter{w}
}

// streamWriter gives a writer a ReadFrom over pooled chunks.
type streamWriter struct{ w io.Writer }

// Write writes p to the writer.
func (s streamWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// ReadFrom copies r to the writer through a pooled chunk until r returns
// io.EOF (not reported) or an error, or a write fails.
func (s streamWriter) ReadFrom(r io.Reader) (int64, error) {
	chunk := chunks.Get().(*[chunkSize]byte)
	defer chunks.Put(chunk)
	var total int64
	for {
		n, rerr := r.Read(chunk[:])
		if n > 0 {
			m, werr := s.w.Write(chunk[:n])
			total += int64(m)
			switch {
			case werr != nil:
				return total, werr
			case m != n:
				return total, io.ErrShortWrite
			}
		}
		switch {
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, rerr
		}
	}
}
