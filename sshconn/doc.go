// Package sshconn is the SSH side of sshpool: it resolves keys into dial
// parameters, dials and authenticates on golang.org/x/crypto/ssh, verifies
// host keys against known_hosts, and implements pool.ConnectionFactory
// (Factory) and pool.SSHClient (Client).
//
// # Resolving
//
// A key ("web1", "alice@db:2222", "[::1]:22", or any name registered in a
// Registry) becomes a Target through a Resolver. Chain tries resolvers in
// order: a Registry of explicit targets, then SSHConfig (~/.ssh/config,
// then /etc/ssh/ssh_config, resolved as OpenSSH's ssh does and checked
// against `ssh -G`; Keywords lists what it does with each keyword), then
// Plain ("[user@]host[:port]").
//
// # Connecting
//
// A Target is dialled directly, through ProxyJump hosts (JumpHosts), or
// over a ProxyCommand's stdin and stdout (a shell command run in its own
// process group, killed and reaped when the dial fails or the connection
// closes). A host name that does not resolve is a *DNSError:
// failure.DNSNotFound (not retried) or failure.DNSTemporary (retried).
//
// # Outside input
//
// ssh_config and its Includes, known_hosts, identity and certificate
// files are read with bounds (FileLimits): a FIFO, a device such as
// /dev/zero, or a file over its size cap fails fast with an error naming
// it. An optional identity file (Auth.OptionalIdentityFiles, ssh's default
// ~/.ssh/id_* keys) that cannot be used is skipped with a warning instead,
// as ssh skips its default identities.
//
// # Authentication
//
// Methods are offered in OpenSSH's order: public keys (agent keys from
// SSH_AUTH_SOCK or Auth.AgentSocket first, only those matching a
// configured identity with Auth.IdentitiesOnly, then identity files, each
// with its "<file>-cert.pub" certificate ahead of the bare key, each key
// once), keyboard-interactive, then password. Passwords and passphrases come from a SecretSource or
// PassphraseFunc and travel as Secret values, which print as "[REDACTED]".
// An authentication failure is detected structurally (key exchange and host
// key verification succeeded, authentication ran, and the handshake failed
// without a transport error) and reported as *AuthError.
//
// # Host keys
//
// Host keys are checked strictly against known_hosts (the user's files,
// then the read-only global ones) by default
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
// failure.Kinder, so failure.Classify sorts them without matching strings.
package sshconn
