package capture_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/sshpool/sshpool/internal/capture"
)

// onlyReader hides a source's WriterTo, as a session channel has none.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// onlyWriter hides a sink's ReaderFrom: what io.Copy did with the old
// mutex-guarded buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// BenchmarkCopy copies output of several sizes the way x/crypto does
// (io.Copy from a reader without WriterTo) into a Buffer, into a
// bytes.Buffer, and into a writer without ReaderFrom (io.Copy's 32 KiB
// buffer per copy).
func BenchmarkCopy(b *testing.B) {
	for _, size := range []int{0, 100, 64 << 10, 4 << 20} {
		data := payload(size)
		for _, impl := range []struct {
			name string
			sink func() io.Writer
		}{
			{"capture", func() io.Writer { return new(capture.Buffer) }},
			{"bytes.Buffer", func() io.Writer { return new(bytes.Buffer) }},
			{"no-ReaderFrom", func() io.Writer { return onlyWriter{new(bytes.Buffer)} }},
		} {
			b.Run(fmt.Sprintf("size=%d/impl=%s", size, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := io.Copy(impl.sink(), onlyReader{bytes.NewReader(data)}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
