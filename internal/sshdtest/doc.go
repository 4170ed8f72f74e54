// Package sshdtest starts a private, real OpenSSH sshd for integration
// tests, in the spirit of net/http/httptest: package sshtest is the fast,
// fault-injectable in-process server; sshdtest is the real thing, for the
// behaviour only OpenSSH has (MaxSessions, MaxStartups, the delay after a
// failed "none" auth, fork-per-connection costs, real exit statuses).
//
// Start runs /usr/sbin/sshd (Debian's openssh-server) in the foreground
// (-D -e) with a config of its own in a fresh temporary directory: it
// listens on 127.0.0.1 on a free port, with a freshly generated ed25519 host
// key and an ed25519 client key in its AuthorizedKeysFile, UsePAM no and
// StrictModes no. It waits until the port answers with an OpenSSH banner and
// registers a cleanup that stops sshd and every process it started and
// removes the directory. When the test has failed, sshd's log is printed.
//
//	srv := sshdtest.Start(t, sshdtest.WithMaxSessions(2))
//	client, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig())
//
// When /usr/sbin/sshd is missing Start skips the test, or fails it when the
// environment variable CI is "true" (CI machines must have it: .ci/run
// installs openssh-server). Programs that are not tests use New and Close.
//
// # The login user
//
// When the tests run as root, the server logs users in as TestUser
// ("sshpooltest"), a system user that New creates on first use (idempotent,
// serialized across parallel test processes by a flock on LockPath): home
// /var/lib/sshpooltest with no dotfiles, shell /bin/sh, and password field
// "*" (with UsePAM no, sshd refuses a locked "!" account even for public
// keys; "*" only means "no password"). Logging in as root would run root's
// ~/.bashrc (pyenv, ~300 ms) around every remote command on these machines.
// WithPasswordAuth gives TestUser a random password, generated once per
// boot, set with chpasswd and kept in PasswordPath (root only), so that
// parallel test processes agree on it; Server.Password returns it. root
// itself may log in with the client key too (PermitRootLogin defaults to
// prohibit-password; see WithPermitRootLogin). WithKbdInteractivePAM
// turns PAM on for keyboard-interactive logins, with a PAM service of its
// own (PAMService, written to /etc/pam.d on first use), since sshd names
// its PAM service after the program it runs as.
//
// When the tests do not run as root, sshd runs as the current user, which is
// then the only user it can log in; WithPasswordAuth is not available (New
// returns ErrNeedsRoot and Start skips). The temporary directory must then
// be traversable by that user, which it is: it lies under os.TempDir.
//
// # Faults
//
// Stop SIGKILLs sshd and every process it started (the listener, the
// per-connection processes and the remote commands, frozen first so none
// escapes by forking), so established connections drop as if the host had
// crashed; it returns once they are dead. Restart then starts sshd again on
// the same port with the same keys and config. Killed processes whose parent
// died with them are reaped by init.
// Kill SIGKILLs only the listener: new connections are refused while
// established ones keep working (until Stop, Restart or Close ends them).
package sshdtest
