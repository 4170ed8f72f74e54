package sshtest

import "errors"

// ErrServerClosed is returned by the fault controls that listen again
// (RefuseNew, Restart) once Close has been called.
var ErrServerClosed = errors.New("sshtest: server closed")
