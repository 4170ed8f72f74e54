package pool

import (
	"fmt"

	"github.com/sshpool/sshpool/failure"
)

// ExitError reports a remote command that ran and did not exit 0. It
// carries the command's Result.
type ExitError struct {
	Result Result
}

// Error describes the exit status or signal.
func (e *ExitError) Error() string {
	if e.Result.Signal != "" {
		return "ssh: command killed by signal " + e.Result.Signal
	}
	return fmt.Sprintf("ssh: command exited with status %d", e.Result.ExitStatus)
}

// ErrorKind returns failure.Exit.
func (e *ExitError) ErrorKind() failure.Kind { return failure.Exit }
