package sshconn

import (
	"strings"
	"testing"
)

// TestTailBuffer: the buffer keeps the last max bytes of everything
// written, and String quotes them: whole when nothing was dropped, else
// from a rune boundary after "…", with the total length; control
// characters and invalid UTF-8 escaped.
func TestTailBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"empty", 8, nil, ""},
		{"fits", 8, []string{"ab", "cd\n"}, `"abcd\n"`},
		{"exactly max", 4, []string{"abcd"}, `"abcd"`},
		{"start dropped", 4, []string{"abc", "def", "gh"}, `…"efgh" (8 bytes)`},
		{"one write over", 3, []string{"abcdef"}, `…"def" (6 bytes)`},
		// "é" is two bytes and "€" three: a cut inside either starts the
		// excerpt at the next rune.
		{"cut in a 2-byte rune", 4, []string{"xxé€"}, `…"€" (7 bytes)`},
		{"cut in a 3-byte rune", 5, []string{"xx€€"}, `…"€" (8 bytes)`},
		{"controls escaped", 16, []string{"a\x1b[2Jb\xff"}, `"a\x1b[2Jb\xff"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &tailBuffer{max: tc.max}
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := b.String(); got != tc.want {
				t.Errorf("String() = %s, want %s", got, tc.want)
			}
			if len(b.buf) > tc.max {
				t.Errorf("kept %d bytes, max %d", len(b.buf), tc.max)
			}
		})
	}
	// The end of a long stderr survives, bounded.
	b := &tailBuffer{max: proxyStderrMax}
	for range 100 {
		b.Write([]byte("warning: noise\n"))
	}
	b.Write([]byte("last words"))
	if s := b.String(); !strings.Contains(s, "last words") || !strings.HasPrefix(s, "…") || len(s) > 2*proxyStderrMax {
		t.Errorf("long stderr: %s", s)
	}
}
