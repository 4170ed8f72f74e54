package testenv

import (
	"fmt"
	"os"
	"testing"
)

// InCI reports whether the tests run in CI: the environment variable CI
// is "true".
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing ends tb for a program it needs that is not installed: it fails
// tb in CI (InCI) and skips it elsewhere, with the message made from
// format and args as fmt.Sprintf makes it.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}
