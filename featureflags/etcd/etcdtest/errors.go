package etcdtest

import "errors"

// ErrNotInstalled is returned by New when the etcd binary (Binary, or the
// path given with WithBinary) does not exist.
var ErrNotInstalled = errors.New("etcdtest: " + notInstalledMsg)

// ErrClosed is returned by Stop, Restart and Kill after Close.
var ErrClosed = errors.New("etcdtest: server closed")

// errBind reports that etcd could not bind one of its ports (someone else
// took it between the probe and the start).
var errBind = errors.New("etcdtest: port in use")

// notInstalledMsg is the skip or failure message of Start when etcd is
// missing.
const notInstalledMsg = "etcd not installed: run apt-get install etcd-server"
