//go:build !linux

package sshconn

import "os"

// memFile returns the name of a private temporary file holding data, and
// a function that removes it.
func memFile(data []byte) (name string, release func(), err error) {
	f, err := os.CreateTemp("", "sshconn-known-hosts-*")
	if err != nil {
		return "", nil, err
	}
	name = f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", nil, err
	}
	return name, func() { _ = os.Remove(name) }, nil
}
