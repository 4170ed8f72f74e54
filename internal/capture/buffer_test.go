package capture_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/sshpool/sshpool/internal/capture"
)

// Buffer must be what io.Copy looks for: without ReaderFrom, io.Copy (and so
// x/crypto's session) allocates a 32 KiB buffer per stream per command.
var _ io.ReaderFrom = (*capture.Buffer)(nil)

// randomChunks returns a reader of data that returns short reads of random
// sizes (1..40,000 bytes), as a channel does packet by packet.
func randomChunks(data []byte, seed uint64) io.Reader {
	return &chunkReader{data: data, r: rand.New(rand.NewPCG(seed, 1))}
}

type chunkReader struct {
	data []byte
	r    *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.r.IntN(40000))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func payload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestReadFromKeepsEverything(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 16 << 10, 16<<10 + 1, 1 << 20, 5<<20 + 7} {
		data := payload(n)
		var b capture.Buffer
		got, err := io.Copy(&b, randomChunks(data, uint64(n)))
		if err != nil || got != int64(n) {
			t.Fatalf("n=%d: io.Copy = %d, %v; want %d, nil", n, got, err, n)
		}
		if out := b.Take(); !bytes.Equal(out, data) {
			t.Fatalf("n=%d: took %d bytes, not the %d written", n, len(out), n)
		}
	}
}

func TestEmptyIsNil(t *testing.T) {
	var b capture.Buffer
	if _, err := b.ReadFrom(strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if b.Bytes() != nil || b.String() != "" || b.Len() != 0 || b.Take() != nil {
		t.Error("an empty Buffer must report nil bytes, empty string, zero length")
	}
}

func TestReadFromReportsReadError(t *testing.T) {
	boom := errors.New("boom")
	var b capture.Buffer
	n, err := b.ReadFrom(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)))
	if n != 3 || !errors.Is(err, boom) || b.String() != "abc" {
		t.Errorf("ReadFrom = %d, %v with %q; want 3, boom with \"abc\"", n, err, b.String())
	}
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  int64
		writes []string
		want   string
		over   bool
	}{
		{"under", 10, []string{"abc", "def"}, "abcdef", false},
		{"exactly", 6, []string{"abc", "def"}, "abcdef", false},
		{"split", 5, []string{"abc", "def", "ghi"}, "abcde", true},
		{"first write", 2, []string{"abcdef"}, "ab", true},
		{"unlimited", 0, []string{"abc", "def"}, "abcdef", false},
		{"negative is unlimited", -1, []string{"abc"}, "abc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []string{"Write", "ReadFrom"} {
				var b capture.Buffer
				calls := 0
				b.SetLimit(tc.limit, func() { calls++ })
				var firstErr error
				for _, w := range tc.writes {
					var err error
					if via == "Write" {
						_, err = b.Write([]byte(w))
					} else {
						_, err = b.ReadFrom(strings.NewReader(w))
					}
					if err != nil && firstErr == nil {
						firstErr = err
					}
				}
				if b.String() != tc.want || b.Exceeded() != tc.over {
					t.Errorf("%s: holds %q (exceeded %t); want %q (%t)", via, b.String(), b.Exceeded(), tc.want, tc.over)
				}
				wantCalls := map[bool]int{false: 0, true: 1}[tc.over]
				if calls != wantCalls || errors.Is(firstErr, capture.ErrLimit) != tc.over {
					t.Errorf("%s: onLimit called %d times, error %v; want %d and ErrLimit=%t", via, calls, firstErr, wantCalls, tc.over)
				}
			}
		})
	}
}

func TestWriteReportsKeptBytesAtLimit(t *testing.T) {
	var b capture.Buffer
	b.SetLimit(4, nil)
	n, err := b.Write([]byte("abcdef"))
	if n != 4 || !errors.Is(err, capture.ErrLimit) {
		t.Errorf("Write = %d, %v; want 4, ErrLimit", n, err)
	}
	if n, err := b.Write([]byte("x")); n != 0 || !errors.Is(err, capture.ErrLimit) {
		t.Errorf("Write after the limit = %d, %v; want 0, ErrLimit", n, err)
	}
}

// TestLimitBoundsMemory: a source that never ends costs at most the limit
// (the buffer never grows past it), and ReadFrom returns.
func TestLimitBoundsMemory(t *testing.T) {
	var b capture.Buffer
	const limit = 1<<20 + 3
	b.SetLimit(limit, nil)
	n, err := b.ReadFrom(endless{})
	if !errors.Is(err, capture.ErrLimit) || n < limit {
		t.Fatalf("ReadFrom(endless) = %d, %v; want >= %d, ErrLimit", n, err, limit)
	}
	if out := b.Take(); len(out) != limit || cap(out) != limit {
		t.Errorf("kept len %d cap %d; want both %d", len(out), cap(out), limit)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'y'
	}
	return len(p), nil
}

func TestTakeDetaches(t *testing.T) {
	var b capture.Buffer
	_, _ = b.Write([]byte("abc"))
	out := b.Take()
	if n, err := b.Write([]byte("zzz")); n != 3 || err != nil {
		t.Errorf("Write after Take = %d, %v; want 3, nil (dropped)", n, err)
	}
	if n, err := b.ReadFrom(strings.NewReader("zzzz")); n != 4 || err != nil {
		t.Errorf("ReadFrom after Take = %d, %v; want 4, nil (dropped)", n, err)
	}
	if string(out) != "abc" || b.Len() != 0 || b.Take() != nil {
		t.Errorf("after Take: taken %q, Len %d; want \"abc\" unchanged and an empty Buffer", out, b.Len())
	}
}

func TestBytesIsACopy(t *testing.T) {
	var b capture.Buffer
	_, _ = b.Write([]byte("abc"))
	c := b.Bytes()
	c[0] = 'X'
	if b.String() != "abc" {
		t.Errorf("modifying Bytes' result changed the Buffer: %q", b.String())
	}
}

// TestConcurrentWriters: two streams copied into one Buffer (combined
// output) while another goroutine reads it; every byte arrives, each
// write's bytes stay together.
func TestConcurrentWriters(t *testing.T) {
	var b capture.Buffer
	var wg sync.WaitGroup
	line := func(c byte) string { return strings.Repeat(string(c), 99) + "\n" }
	for _, c := range []byte{'o', 'e'} {
		wg.Go(func() {
			for range 500 {
				if _, err := b.Write([]byte(line(c))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			_ = b.Len()
			_ = b.Bytes()
		}
	})
	wg.Wait()
	lines := strings.SplitAfter(b.String(), "\n")
	lines = lines[:len(lines)-1]
	count := map[string]int{}
	for _, l := range lines {
		count[l]++
	}
	if len(lines) != 1000 || count[line('o')] != 500 || count[line('e')] != 500 {
		t.Errorf("got %d lines (%d stdout, %d stderr); want 500 of each, whole", len(lines), count[line('o')], count[line('e')])
	}
}

// TestReadFromEmptyAllocatesNothing: the common command (no output) costs
// no allocation for capture, the point of the type.
func TestReadFromEmptyAllocatesNothing(t *testing.T) {
	var b capture.Buffer
	r := strings.NewReader("")
	b.ReadFrom(r) // warm the chunk pool
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset("")
		_, _ = b.ReadFrom(r)
	})
	if allocs != 0 {
		t.Errorf("ReadFrom of an empty stream allocated %.1f times; want 0", allocs)
	}
}

// TestStream: a caller's writer gets every byte in order through a
// ReadFrom (so io.Copy brings no buffer of its own), a write error or a
// short write stops the copy, and a Buffer is used as it is.
func TestStream(t *testing.T) {
	var b capture.Buffer
	if capture.Stream(&b) != io.Writer(&b) {
		t.Error("Stream wrapped a *Buffer")
	}
	data := payload(1<<20 + 5)
	var dst bytes.Buffer
	w := capture.Stream(onlyWriter{&dst})
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Fatal("Stream's writer has no ReadFrom")
	}
	if n, err := io.Copy(w, randomChunks(data, 9)); err != nil || n != int64(len(data)) || !bytes.Equal(dst.Bytes(), data) {
		t.Fatalf("io.Copy = %d, %v; want every byte in order", n, err)
	}
	boom := errors.New("boom")
	if _, err := io.Copy(capture.Stream(failWriter{boom}), strings.NewReader("abc")); !errors.Is(err, boom) {
		t.Errorf("a failing writer: %v, want boom", err)
	}
	if _, err := io.Copy(capture.Stream(shortWriter{}), strings.NewReader("abc")); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("a short writer: %v, want io.ErrShortWrite", err)
	}
	empty := strings.NewReader("")
	var src io.Reader = onlyReader{empty}
	allocs := testing.AllocsPerRun(100, func() {
		empty.Reset("")
		_, _ = io.Copy(w, src)
	})
	if allocs != 0 {
		t.Errorf("streaming an empty output allocated %.1f times; want 0", allocs)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }
