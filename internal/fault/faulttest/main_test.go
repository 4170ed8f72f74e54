package faulttest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: the
// pool, the servers and the proxies must all stop what they started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
