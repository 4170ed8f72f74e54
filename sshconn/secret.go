package sshconn

import (
	"context"
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret holds a password, passphrase or keyboard-interactive answer. Every
// way of printing it (String, GoString, %v/%s/%q/%x..., JSON, slog) yields
// "[REDACTED]"; only Reveal returns the value. The zero Secret is empty.
type Secret struct {
	value string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{value: s} }

// Reveal returns the secret's value. Call it only where the value is handed
// to the SSH protocol.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (s Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb and flag.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes slog print "[REDACTED]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// SecretSource supplies passwords for password and keyboard-interactive
// authentication. It is called during the handshake, on the dialing
// goroutine, bounded by the dial's context. Errors it returns end up in
// dial errors and must not contain the secret.
type SecretSource interface {
	Password(ctx context.Context, t Target) (Secret, error)
}

// KeyboardInteractiveSource is an optional extension of SecretSource that
// answers keyboard-interactive prompts one by one. Without it, every prompt
// is answered with Password.
type KeyboardInteractiveSource interface {
	SecretSource
	// Answer returns the answer to one prompt; echo reports whether the
	// server asked for the answer to be shown as typed.
	Answer(ctx context.Context, t Target, question string, echo bool) (Secret, error)
}

// SecretFunc adapts a function to SecretSource.
type SecretFunc func(ctx context.Context, t Target) (Secret, error)

// Password calls f(ctx, t).
func (f SecretFunc) Password(ctx context.Context, t Target) (Secret, error) { return f(ctx, t) }

// StaticPassword returns a SecretSource that always returns password.
func StaticPassword(password Secret) SecretSource {
	return SecretFunc(func(context.Context, Target) (Secret, error) { return password, nil })
}

// PassphraseFunc returns the passphrase for an encrypted identity file. It
// is called while the dial loads identity files, bounded by the dial's
// context.
type PassphraseFunc func(ctx context.Context, file string) (Secret, error)
