package legacy_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the tests with HOME in a temporary directory and no SSH
// agent: a Server's Target reads ~/.ssh (keys, known_hosts, where accept-new
// records host keys), which must never be the real one's. Tests that need a
// HOME of their own set it with t.Setenv.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "legacy-home-")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	os.Unsetenv("SSH_AUTH_SOCK")
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(home) }))
}
