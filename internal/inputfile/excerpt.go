package inputfile

import (
	"strconv"
	"unicode/utf8"
)

// DefaultExcerpt is the number of runes Excerpt keeps when asked for zero.
const DefaultExcerpt = 40

// Excerpt returns s as a Go-quoted string for an error message, cut to its
// first n runes (DefaultExcerpt when n <= 0) with the total length noted
// when it was cut: a 10 MB key is reported as "aaaa…"… (10485760 bytes),
// never echoed whole. Control characters and invalid UTF-8 are escaped by
// the quoting.
func Excerpt(s string, n int) string {
	if n <= 0 {
		n = DefaultExcerpt
	}
	if utf8.RuneCountInString(s) <= n {
		return strconv.Quote(s)
	}
	cut, i := 0, 0
	for i < n {
		_, size := utf8.DecodeRuneInString(s[cut:])
		cut += size
		i++
	}
	return strconv.Quote(s[:cut]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}
