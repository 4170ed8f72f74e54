// Package etcdtest starts a private, real etcd server for integration
// tests, the way package sshdtest starts a real sshd: Debian's etcd-server
// (/usr/bin/etcd, v3.4) runs as a child process, alone in a single-member
// cluster, listening on 127.0.0.1 on free ports, with a fresh temporary data
// directory that is removed at the end.
//
//	srv := etcdtest.Start(t)
//	cli := srv.Client(t) // a clientv3.Client closed at cleanup
//
// # Why the packaged binary and not the embeddable server
//
// etcd's own go.etcd.io/etcd/server/v3/embed runs the same server code in
// the test process. The tests use the packaged binary instead, because what
// they prove is how sshpool behaves against the etcd that operators run:
//   - a separate process can crash (Stop sends SIGKILL, so connections
//     reset and nothing is flushed politely) and come back on the same
//     ports with the same data (Restart), which an in-process server
//     cannot do without also taking the client's process state with it;
//   - the server is an older release (3.4) than the client (3.7): the tests
//     check that the current client works against it (the oldest etcd still
//     common in production clusters) instead of only against its own
//     version;
//   - the test module does not build etcd's server, raft and bbolt.
//
// When the binary is missing Start skips the test, or fails it when the
// environment variable CI is "true" (.ci/run installs etcd-server).
// Programs that are not tests use New and Close.
//
// # TLS and authentication
//
// WithTLS generates a CA, a server certificate for 127.0.0.1 and a client
// certificate, and starts etcd with client certificate authentication
// (https:// endpoints). EnableAuth creates the root user with a password
// and turns etcd's authentication on.
package etcdtest
