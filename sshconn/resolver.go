package sshconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Resolver turns a key into a Target. A resolver that does not know a key
// returns an error wrapping ErrNotFound so that a Chain asks the next one.
// Resolve may do I/O (read files) and must honour ctx.
type Resolver interface {
	Resolve(ctx context.Context, key string) (Target, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, key string) (Target, error)

// Resolve calls f(ctx, key).
func (f ResolverFunc) Resolve(ctx context.Context, key string) (Target, error) { return f(ctx, key) }

// Chain asks each resolver in order and returns the first answer that is
// not ErrNotFound.
type Chain []Resolver

// Resolve implements Resolver.
func (c Chain) Resolve(ctx context.Context, key string) (Target, error) {
	for _, r := range c {
		t, err := r.Resolve(ctx, key)
		if !errors.Is(err, ErrNotFound) {
			return t, err
		}
	}
	return Target{}, &ConfigError{Key: key, Err: ErrNotFound}
}

// Registry maps keys to explicitly registered targets. The zero value is
// ready to use; a Registry is safe for concurrent use.
type Registry struct {
	// mu guards targets.
	mu      sync.RWMutex
	targets map[string]Target
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{} }

// Register maps key to t, replacing any previous target. Target.Key is set
// to key when empty.
func (r *Registry) Register(key string, t Target) {
	if t.Key == "" {
		t.Key = key
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.targets == nil {
		r.targets = make(map[string]Target)
	}
	r.targets[key] = t
}

// Unregister removes key.
func (r *Registry) Unregister(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.targets, key)
}

// Resolve returns the target registered for key, or ErrNotFound.
func (r *Registry) Resolve(_ context.Context, key string) (Target, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.targets[key]
	if !ok {
		return Target{}, fmt.Errorf("%w: %q not registered", ErrNotFound, key)
	}
	return t, nil
}

// Plain resolves "[user@]host[:port]" keys ("[::1]:2222" for IPv6 with a
// port) into a copy of Defaults with Host, Port and User filled in. A key
// without a user gets Defaults.User.
type Plain struct {
	// Defaults supplies every field the key does not (auth, host key
	// policy, known_hosts files, timeouts).
	Defaults Target
}

// Resolve implements Resolver.
func (p Plain) Resolve(_ context.Context, key string) (Target, error) {
	user, host, port, err := ParseKey(key)
	if err != nil {
		return Target{}, &ConfigError{Key: key, Err: err}
	}
	t := p.Defaults
	t.Key, t.Host = key, host
	if user != "" {
		t.User = user
	}
	if port != 0 {
		t.Port = port
	}
	return t, nil
}

// ParseKey splits "[user@]host[:port]" into its parts; port is 0 when
// absent. IPv6 addresses with a port are written in brackets
// ("[::1]:22"); a bare IPv6 address ("::1") has no port.
func ParseKey(key string) (user, host string, port int, err error) {
	if i := strings.LastIndexByte(key, '@'); i >= 0 {
		user, key = key[:i], key[i+1:]
	}
	host, port, err = splitHostPort(key)
	if err == nil && host == "" {
		err = errors.New("empty host")
	}
	if err != nil {
		return "", "", 0, fmt.Errorf("sshconn: bad key %s: %w", quoted(key), err)
	}
	return user, host, port, nil
}

func splitHostPort(s string) (string, int, error) {
	if strings.HasPrefix(s, "[") && !strings.Contains(s, "]:") {
		return strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), 0, nil
	}
	if strings.Count(s, ":") != 1 && !strings.HasPrefix(s, "[") {
		return s, 0, nil // bare host or bare IPv6 address
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %s", quoted(p))
	}
	return h, n, nil
}
