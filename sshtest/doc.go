// Package sshtest provides an in-process SSH server for tests and demos, in
// the spirit of net/http/httptest.
//
// A Server listens on 127.0.0.1 on a free port with a freshly generated
// ed25519 host key, and generates an ed25519 client key that it accepts for
// any user name. It runs a Handler for every "exec" (and "shell") request;
// DefaultHandler implements a few built-in commands (echo, true, false, exit,
// sleep, cat, hostname, whoami, env, stderr, yes), with shell quoting but no
// shell: a line that needs one ("a; b", "a | b", "$X", ...) is answered with
// a clear error and status 2, never run in part. It also serves
// direct-tcpip channels to loopback destinations, so it can act as a
// ProxyJump host, and answers keepalive@openssh.com global requests with a
// failure reply, as OpenSSH does.
//
// Fault controls (SetMaxSessions, SetHandshakeDelay, Stall, DropAll,
// RefuseNew, FailAuth, Restart) let tests provoke the failures a connection
// pool must survive; they are safe to call while clients are connected.
// Stats reports what the server has seen.
//
// In tests use NewServer, which closes the server in t.Cleanup:
//
//	srv := sshtest.NewServer(t)
//	client, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig("alice"))
//
// Programs that are not tests use Start and Close.
//
// Every goroutine a Server starts is waited for by Close. Handlers must
// return once their context is done, or Close (and DropAll, Restart) will
// wait for them.
package sshtest
