//go:build linux

package sshconn

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// memFile returns the name of an in-memory file holding data (a memfd,
// opened again through /proc/self/fd), and a function that releases it.
func memFile(data []byte) (name string, release func(), err error) {
	fd, err := unix.MemfdCreate("sshconn-known-hosts", unix.MFD_CLOEXEC)
	if err != nil {
		return "", nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { _ = f.Close() }, nil
}
