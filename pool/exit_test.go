package pool_test

import (
	"fmt"
	"testing"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

// TestPoolErrorsClassify: the pool's own errors declare their kinds to
// package failure, wrapped or not, and an ExitError says how the command
// ended.
func TestPoolErrorsClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want failure.Kind
	}{
		{pool.ErrPoolClosed, failure.PoolClosed},
		{fmt.Errorf("wrapped: %w", pool.ErrPoolClosed), failure.PoolClosed},
		{&pool.ExitError{Result: pool.Result{ExitStatus: 2}}, failure.Exit},
		{&pool.OutputLimitError{Stream: "stdout", Limit: 1}, failure.Exit},
	} {
		if got := failure.Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	e := &pool.ExitError{Result: pool.Result{Signal: "TERM"}}
	if e.Error() != "ssh: command killed by signal TERM" || (&pool.ExitError{Result: pool.Result{ExitStatus: 4}}).Error() != "ssh: command exited with status 4" {
		t.Errorf("ExitError messages %q, %q", e, &pool.ExitError{Result: pool.Result{ExitStatus: 4}})
	}
}
