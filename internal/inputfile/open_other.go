//go:build !unix

package inputfile

import "os"

// openNonBlocking opens path read-only. Outside Unix there is no FIFO to
// block on open; the regular-file checks before and after still apply.
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
