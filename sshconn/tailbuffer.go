package sshconn

import (
	"sync"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// proxyStderrMax is how much of a ProxyCommand's stderr is kept.
const proxyStderrMax = 4096

// tailBuffer keeps the last max bytes written to it; it is safe for
// concurrent use.
type tailBuffer struct {
	max int
	// mu guards buf.
	mu  sync.Mutex
	buf []byte
}

// Write keeps the end of p and of what was written before.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns what was kept, quoted and cut to a short excerpt.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		return ""
	}
	return inputfile.Excerpt(string(b.buf), 200)
}
