//go:build !unix

package sshconn

import "os"

// lockFile is a no-op where flock(2) does not exist; the writer's mutex
// still serialises writers in this process.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
