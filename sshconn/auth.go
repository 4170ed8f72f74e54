package sshconn

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// OpenSSHDefaults returns a Target template with OpenSSH's client defaults
// for the current user: the agent enabled, ~/.ssh/id_ed25519, id_ecdsa and
// id_rsa as optional identity files, ~/.ssh/known_hosts and known_hosts2,
// the global /etc/ssh/ssh_known_hosts and ssh_known_hosts2 (read only),
// strict host key checking. It reads no files.
func OpenSSHDefaults() Target {
	home, _ := os.UserHomeDir()
	dir := filepath.Join(home, ".ssh")
	return Target{
		Auth: Auth{
			Agent: true,
			OptionalIdentityFiles: []string{
				filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "id_ecdsa"), filepath.Join(dir, "id_rsa"),
			},
		},
		KnownHostsFiles:       []string{filepath.Join(dir, "known_hosts"), filepath.Join(dir, "known_hosts2")},
		GlobalKnownHostsFiles: []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"},
	}
}

// agentHolder opens the SSH agent socket at most once per dial and hands
// its ownership to the Client (which closes it on Close).
type agentHolder struct {
	conn   net.Conn
	client agent.ExtendedAgent
	logger *slog.Logger
	// unbound stops the dial's context from failing the agent socket's
	// requests (set by open).
	unbound func() bool
}

// signers returns the agent's signers for a, or nil when the agent is not
// enabled or not reachable (logged, not fatal: identity files may work).
func (h *agentHolder) signers(ctx context.Context, a Auth) []ssh.Signer {
	if !a.Agent {
		return nil
	}
	if h.client == nil && !h.open(ctx, a) {
		return nil
	}
	s, err := h.client.Signers()
	if err != nil {
		h.logger.Warn("sshconn: agent signers unavailable", "err", err)
		return nil
	}
	return s
}

func (h *agentHolder) open(ctx context.Context, a Auth) bool {
	path := firstNonEmpty(a.AgentSocket, os.Getenv("SSH_AUTH_SOCK"))
	if path == "" {
		return false
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
	if err != nil {
		h.logger.Warn("sshconn: agent unreachable", "socket", path, "err", err)
		return false
	}
	// An agent that stops answering must not hold the dial past its
	// context: when the context ends, requests waiting on the agent (the
	// key list, a signature during authentication) fail.
	h.unbound = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	h.conn, h.client = conn, agent.NewClient(conn)
	return true
}

// release ends the dial's hold on the agent socket once the dial has
// succeeded; the Client then owns the socket.
func (h *agentHolder) release() {
	if h.unbound != nil {
		h.unbound()
	}
}

// close closes the agent socket if the dial failed and nothing owns it.
func (h *agentHolder) close() {
	if h.conn != nil {
		_ = h.conn.Close()
	}
}

// authMethods builds the ssh.AuthMethods for t in OpenSSH's order:
// public keys (see publicKeys), keyboard-interactive, password, less the
// methods t disables.
func authMethods(ctx context.Context, t Target, ag *agentHolder, lim FileLimits, logger *slog.Logger) ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if !t.Auth.DisablePublicKey {
		keys, err := publicKeys(ctx, t.Auth, ag, lim, logger)
		if err != nil {
			return nil, err
		}
		if t.Auth.Agent || len(keys) > 0 {
			methods = append(methods, ssh.PublicKeys(keys...))
		}
	}
	if src := t.Auth.secrets(); src != nil {
		if !t.Auth.DisableKeyboardInteractive {
			methods = append(methods, ssh.KeyboardInteractive(kbdInteractive(ctx, t, src)))
		}
		if !t.Auth.DisablePassword {
			methods = append(methods, ssh.PasswordCallback(passwordFunc(ctx, t, src)))
		}
	}
	if len(methods) == 0 {
		return nil, ErrNoAuthMethods
	}
	return methods, nil
}

// secrets is a's password source: Secrets, else PasswordEnv, else nil.
func (a Auth) secrets() SecretSource {
	if a.Secrets != nil {
		return a.Secrets
	}
	if a.PasswordEnv != "" {
		return envPassword(a.PasswordEnv)
	}
	return nil
}

// envPassword is Auth.PasswordEnv's source: the variable it names, read
// at each call.
type envPassword string

// Password returns the variable's value; an unset or empty variable is
// ErrPasswordEnv naming it.
func (name envPassword) Password(context.Context, Target) (Secret, error) {
	v, ok := os.LookupEnv(string(name))
	if !ok {
		return Secret{}, fmt.Errorf("%w: $%s is not set", ErrPasswordEnv, string(name))
	}
	if v == "" {
		return Secret{}, fmt.Errorf("%w: $%s is empty", ErrPasswordEnv, string(name))
	}
	return NewSecret(v), nil
}

func passwordFunc(ctx context.Context, t Target, src SecretSource) func() (string, error) {
	return func() (string, error) {
		s, err := src.Password(ctx, t)
		if err != nil {
			return "", fmt.Errorf("sshconn: password source: %w", err)
		}
		return s.Reveal(), nil
	}
}

func kbdInteractive(ctx context.Context, t Target, src SecretSource) ssh.KeyboardInteractiveChallenge {
	return func(_, _ string, questions []string, echos []bool) ([]string, error) {
		answers := make([]string, len(questions))
		for i, q := range questions {
			s, err := answer(ctx, t, src, q, echos[i])
			if err != nil {
				return nil, fmt.Errorf("sshconn: keyboard-interactive source: %w", err)
			}
			answers[i] = s.Reveal()
		}
		return answers, nil
	}
}

func answer(ctx context.Context, t Target, src SecretSource, q string, echo bool) (Secret, error) {
	if ki, ok := src.(KeyboardInteractiveSource); ok {
		return ki.Answer(ctx, t, q, echo)
	}
	return src.Password(ctx, t)
}
