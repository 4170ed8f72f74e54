package sshdtest

import "errors"

// ErrNotInstalled is returned by New when SSHDPath (or the path given with
// WithSSHDPath) does not exist.
var ErrNotInstalled = errors.New("sshdtest: " + notInstalledMsg)

// ErrNeedsRoot is returned by New for options that need root (a password
// for TestUser) when the process is not running as root.
var ErrNeedsRoot = errors.New("sshdtest: password authentication needs root (to set the test user's password)")

// ErrClosed is returned by Restart and Stop after Close.
var ErrClosed = errors.New("sshdtest: server closed")

// notInstalledMsg is the skip or failure message of Start when sshd is
// missing.
const notInstalledMsg = "sshd not installed: run apt-get install openssh-server"
