// Package sshconn is the SSH side of sshpool: it resolves keys into dial
// parameters, dials and authenticates on golang.org/x/crypto/ssh, verifies
// host keys against known_hosts, and implements pool.ConnectionFactory
// (Factory) and pool.SSHClient (Client).
//
// # Resolving
//
// A key ("web1", "alice@db:2222", "[::1]:22", or any name registered in a
// Registry) becomes a Target through a Resolver. Chain tries resolvers in
// order: a Registry of explicit targets, then SSHConfig (~/.ssh/config
// aliases with HostName, Port, User, IdentityFile, ProxyJump,
// UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout), then Plain
// ("[user@]host[:port]").
//
// # Authentication
//
// Methods are offered in OpenSSH's order: public keys (agent keys from
// SSH_AUTH_SOCK first, then identity files, each with its
// "<file>-cert.pub" certificate ahead of the bare key), keyboard-interactive,
// then password. Passwords and passphrases come from a SecretSource or
// PassphraseFunc and travel as Secret values, which print as "[REDACTED]".
// An authentication failure is detected structurally (key exchange and host
// key verification succeeded, authentication ran, and the handshake failed
// without a transport error) and reported as *AuthError.
//
// # Host keys
//
// Host keys are checked strictly against known_hosts by default
// (HostKeyStrict). HostKeyAcceptNew records unknown hosts the way OpenSSH's
// StrictHostKeyChecking=accept-new does, safely against concurrent writers.
// HostKeyInsecure accepts any key and logs a warning on every use. A changed
// key is always refused. @cert-authority and @revoked lines are honoured,
// and ClientConfig.HostKeyAlgorithms is set from the recorded key types
// (golang/go#29286).
//
// # Commands
//
// Client.Exec runs a command in a session of its own. Output that is not
// streamed is captured up to a limit per stream (WithMaxOutput, default
// DefaultMaxOutput); a command that writes more is stopped with
// *pool.OutputLimitError. Exec keeps the sessions a server may still count
// within its session limit (OpenSSH frees a closed session's slot only
// later), waiting for a free slot instead of being refused; the limit is
// OpenSSH's default MaxSessions, or WithServerMaxSessions, or learnt from
// a refusal.
//
// # Errors
//
// Every error is prefixed "sshconn: " and typed errors implement
// pool.Kinder, so pool.Classify sorts them without matching strings.
package sshconn
