package testenv

import (
	"fmt"
	"os"
	"runtime"
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

// Ending runs f on a testing.TB that records how f ends the test, for
// tests of helpers such as Missing: "skip: " or "fatal: " and the message
// of the Skip, Skipf, Fatal or Fatalf call that ended f, or "returned"
// when f returned. The other methods are tb's.
func Ending(tb testing.TB, f func(testing.TB)) string {
	r := &recorder{TB: tb, got: "returned"}
	done := make(chan struct{})
	go func() { // Skip and Fatal end this goroutine, as they end a test's
		defer close(done)
		f(r)
	}()
	<-done
	return r.got
}

// recorder records how Ending's f ends the test instead of ending it.
type recorder struct {
	testing.TB
	got string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) { r.end("fatal: " + fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.end("fatal: " + fmt.Sprintf(format, args...))
}

func (r *recorder) Skip(args ...any) { r.end("skip: " + fmt.Sprint(args...)) }

func (r *recorder) Skipf(format string, args ...any) { r.end("skip: " + fmt.Sprintf(format, args...)) }

func (r *recorder) end(got string) {
	r.got = got
	runtime.Goexit()
}
