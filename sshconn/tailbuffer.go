package sshconn

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

// proxyStderrMax is how many bytes of the end of a ProxyCommand's stderr
// are kept and quoted in its error.
const proxyStderrMax = 200

// tailBuffer keeps the last max bytes written to it; it is safe for
// concurrent use.
type tailBuffer struct {
	max int
	// mu guards buf and total.
	mu    sync.Mutex
	buf   []byte
	total int // bytes written in all
}

// Write keeps the end of p and of what was written before.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += len(p)
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns what was kept, quoted (control characters and invalid
// UTF-8 escaped), from a rune boundary; when the start was dropped it
// begins with "…" and notes the total length. The end is kept because a
// command's last words say why it failed.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		return ""
	}
	if b.total == len(b.buf) {
		return strconv.Quote(string(b.buf))
	}
	tail := b.buf
	for i := 0; i < utf8.UTFMax && len(tail) > 0 && !utf8.RuneStart(tail[0]); i++ {
		tail = tail[1:]
	}
	return "…" + strconv.Quote(string(tail)) + " (" + strconv.Itoa(b.total) + " bytes)"
}
