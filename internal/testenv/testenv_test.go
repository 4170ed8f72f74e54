package testenv_test

import (
	"testing"

	"github.com/sshpool/sshpool/internal/testenv"
)

// TestMissing: without CI a missing program skips the test, in CI it
// fails it; either way with the message, and nothing after Missing runs.
func TestMissing(t *testing.T) {
	for _, tc := range []struct{ ci, want string }{
		{"", "skip: sshd is not installed"},
		{"false", "skip: sshd is not installed"},
		{"true", "fatal: sshd is not installed"},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			if got := testenv.InCI(); got != (tc.ci == "true") {
				t.Errorf("InCI() = %v", got)
			}
			got := testenv.Ending(t, func(tb testing.TB) { testenv.Missing(tb, "%s is not installed", "sshd") })
			if got != tc.want {
				t.Errorf("Missing ended the test with %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEnding: each way of ending is told apart, and returning too.
func TestEnding(t *testing.T) {
	for want, f := range map[string]func(testing.TB){
		"returned":   func(tb testing.TB) {},
		"skip: a 1":  func(tb testing.TB) { tb.Skip("a ", 1) },
		"skip: b 2":  func(tb testing.TB) { tb.Skipf("b %d", 2) },
		"fatal: c 3": func(tb testing.TB) { tb.Fatal("c ", 3) },
		"fatal: d 4": func(tb testing.TB) { tb.Fatalf("d %d", 4); tb.Skip("never") },
	} {
		if got := testenv.Ending(t, f); got != want {
			t.Errorf("Ending = %q, want %q", got, want)
		}
	}
}
