package testenv_test

import (
	"runtime"
	"testing"

	"github.com/sshpool/sshpool/internal/testenv"
)

// TestMissing: without CI a missing program skips the test, in CI it
// fails it; either way with the message and nothing after Missing runs.
func TestMissing(t *testing.T) {
	for _, ci := range []string{"", "false", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			if got := testenv.InCI(); got != (ci == "true") {
				t.Errorf("InCI() = %v", got)
			}
			rec := &recorder{}
			ran := make(chan bool, 1)
			done := make(chan struct{})
			go func() { // Skip and Fatal end the goroutine, as in a test
				defer close(done)
				testenv.Missing(rec, "%s is not installed", "sshd")
				ran <- true
			}()
			<-done
			if len(ran) != 0 {
				t.Error("Missing returned")
			}
			if rec.msg != "sshd is not installed" || rec.failed != (ci == "true") || rec.skipped == (ci == "true") {
				t.Errorf("msg %q, failed %v, skipped %v", rec.msg, rec.failed, rec.skipped)
			}
		})
	}
}

// recorder is a testing.TB that records how Missing ended it.
type recorder struct {
	testing.TB
	msg             string
	failed, skipped bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) {
	r.msg, r.failed = args[0].(string), true
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any) {
	r.msg, r.skipped = args[0].(string), true
	runtime.Goexit()
}
