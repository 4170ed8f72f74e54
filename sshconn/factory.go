package sshconn

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/ctxtime"
	"github.com/sshpool/sshpool/pool"
)

// Factory defaults.
const (
	// DefaultMaxRetries is how many times a retryable dial failure is
	// retried.
	DefaultMaxRetries = 2
	// DefaultBackoffBase is the first retry's maximum backoff.
	DefaultBackoffBase = 100 * time.Millisecond
	// DefaultBackoffMax caps the backoff.
	DefaultBackoffMax = 2 * time.Second
)

// Factory dials SSH connections for keys; it implements
// pool.ConnectionFactory. Retryable failures (refused, reset, timeout: see
// failure.Kind.Retryable) are retried up to MaxRetries times with
// exponential backoff and full jitter, bounded by ctx; authentication,
// host key and configuration errors never are. A Factory is safe for
// concurrent use; NewFactory does no I/O and starts no goroutines.
type Factory struct {
	resolver    Resolver
	dialer      dialer
	maxRetries  int
	backoffBase time.Duration
	backoffMax  time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
	jitter      func(max time.Duration) time.Duration
	onAttempt   func(key string, attempt int, err error)
	inputs      inputStamps // files read by keys whose last dial failed permanently (ChangedKeys)
}

var _ pool.ConnectionFactory = (*Factory)(nil)

// FactoryOption configures a Factory.
type FactoryOption func(*Factory)

// WithLogger sets the logger for host key warnings (insecure mode,
// accept-new additions) and agent problems. Default: slog.Default().
func WithLogger(l *slog.Logger) FactoryOption { return func(f *Factory) { f.dialer.logger = l } }

// WithMaxRetries sets how many times a retryable failure is retried; 0
// disables retries. Default DefaultMaxRetries.
func WithMaxRetries(n int) FactoryOption { return func(f *Factory) { f.maxRetries = max(n, 0) } }

// WithBackoff sets the first retry's maximum backoff and the cap; each
// retry doubles the maximum and sleeps a uniformly random duration up to
// it (full jitter).
func WithBackoff(base, limit time.Duration) FactoryOption {
	return func(f *Factory) { f.backoffBase, f.backoffMax = base, limit }
}

// WithSleep replaces the backoff sleep (for tests). sleep must return
// ctx.Err() when ctx ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) FactoryOption {
	return func(f *Factory) { f.sleep = sleep }
}

// WithJitter replaces the random backoff draw (for tests); it returns a
// duration in [0, max].
func WithJitter(jitter func(max time.Duration) time.Duration) FactoryOption {
	return func(f *Factory) { f.jitter = jitter }
}

// WithKnownHostsWriter shares one KnownHostsWriter between factories.
// Default: a writer per Factory (flock still serialises them).
func WithKnownHostsWriter(w *KnownHostsWriter) FactoryOption {
	return func(f *Factory) { f.dialer.writer = w }
}

// WithQuickAck enables or disables re-arming TCP_QUICKACK on Linux
// sockets after each of a connection's first reads and writes (the
// handshake and first sessions), which avoids a ~40 ms delayed-ACK stall
// in the first session on an OpenSSH connection. Default: enabled.
func WithQuickAck(on bool) FactoryOption { return func(f *Factory) { f.dialer.quickAck = on } }

// WithMaxOutput sets the limit, in bytes, of each captured output stream
// of a command whose Command.MaxOutput is zero (every Pool.Run): past it
// the command is stopped and Exec fails with *pool.OutputLimitError.
// Negative means no limit. Default DefaultMaxOutput (16 MiB).
func WithMaxOutput(n int64) FactoryOption { return func(f *Factory) { f.dialer.maxOutput = n } }

// WithServerMaxSessions tells Exec the servers' session limit (OpenSSH's
// MaxSessions): Exec then keeps the sessions a server may still count,
// including closed ones it has not yet freed, within n, waiting for a free
// slot instead of being refused. 0 (the default) means
// DefaultServerMaxSessions for OpenSSH servers and, for others, the limit
// learnt from their first refusal; negative turns the accounting off. Set
// it when the servers allow more than 10 sessions and the pool's
// MaxSessionsPerConnection is above 10.
func WithServerMaxSessions(n int) FactoryOption {
	return func(f *Factory) { f.dialer.sessions = n }
}

// WithKnownHostsLimits bounds each read of a known_hosts file (size and
// time). Default: DefaultKnownHostsMaxBytes, DefaultFileTimeout.
func WithKnownHostsLimits(l FileLimits) FactoryOption {
	return func(f *Factory) { f.dialer.knownHostsLimits = l }
}

// WithIdentityLimits bounds each read of an identity, public key or
// certificate file. Default: DefaultIdentityMaxBytes, DefaultFileTimeout.
func WithIdentityLimits(l FileLimits) FactoryOption {
	return func(f *Factory) { f.dialer.identityLimits = l }
}

// WithNetResolver sets the DNS resolver of direct dials. Default:
// net.DefaultResolver.
func WithNetResolver(r *net.Resolver) FactoryOption {
	return func(f *Factory) { f.dialer.resolver = r }
}

// WithAttemptHook calls hook after every dial attempt with its number
// (from 1) and error (nil on success), on the dialing goroutine. The hook
// must not block.
func WithAttemptHook(hook func(key string, attempt int, err error)) FactoryOption {
	return func(f *Factory) { f.onAttempt = hook }
}

// NewFactory returns a Factory that resolves keys with resolver (nil means
// DefaultResolver(nil)).
func NewFactory(resolver Resolver, opts ...FactoryOption) *Factory {
	if resolver == nil {
		resolver = DefaultResolver(nil)
	}
	f := &Factory{
		resolver: resolver, maxRetries: DefaultMaxRetries,
		backoffBase: DefaultBackoffBase, backoffMax: DefaultBackoffMax,
		sleep: ctxtime.Sleep, jitter: fullJitter,
		dialer: dialer{logger: slog.Default(), writer: &KnownHostsWriter{}, quickAck: true},
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// DefaultResolver returns the standard chain: reg (when non-nil), then
// ~/.ssh/config, then plain "[user@]host[:port]" keys, both with
// OpenSSHDefaults.
func DefaultResolver(reg *Registry) Resolver {
	d := OpenSSHDefaults()
	c := Chain{&SSHConfig{Defaults: d}, Plain{Defaults: d}}
	if reg != nil {
		c = append(Chain{reg}, c...)
	}
	return c
}

// Dial resolves key and dials it; it implements pool.ConnectionFactory.
// Errors are *DialError.
func (f *Factory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	c, err := f.DialClient(ctx, key)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialClient is Dial returning the concrete *Client.
func (f *Factory) DialClient(ctx context.Context, key string) (*Client, error) {
	t, err := f.resolver.Resolve(ctx, key)
	if err != nil {
		return nil, &DialError{Key: key, Err: err}
	}
	return f.DialTarget(ctx, key, t)
}

// DialTarget dials t with retries; key names it in errors.
func (f *Factory) DialTarget(ctx context.Context, key string, t Target) (*Client, error) {
	for attempt := 1; ; attempt++ {
		inputs := stampInputs(t)
		c, err := f.dialer.dial(ctx, t)
		if f.onAttempt != nil {
			f.onAttempt(key, attempt, err)
		}
		if err == nil {
			f.inputs.ok(key)
			return c, nil
		}
		if !f.retry(ctx, attempt, err) {
			if failure.Classify(err).Permanent() {
				f.inputs.failed(key, inputs)
			}
			return nil, &DialError{Key: key, Addr: t.Addr(), Attempt: attempt, Err: err}
		}
	}
}

// retry reports whether to try again after attempt failed with err, and
// sleeps the backoff first.
func (f *Factory) retry(ctx context.Context, attempt int, err error) bool {
	if attempt > f.maxRetries || !failure.Classify(err).Retryable() || ctx.Err() != nil {
		return false
	}
	return f.sleep(ctx, f.jitter(f.backoff(attempt))) == nil
}

// backoff is the maximum sleep before retry number attempt (from 1).
func (f *Factory) backoff(attempt int) time.Duration {
	d := f.backoffBase
	for i := 1; i < attempt && d < f.backoffMax; i++ {
		d *= 2
	}
	return min(d, f.backoffMax)
}

func fullJitter(limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return rand.N(limit + 1)
}
