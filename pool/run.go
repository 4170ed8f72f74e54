package pool

import (
	"context"
	"fmt"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/ctxtime"
)

// Run implements Pool.
func (p *pool) Run(ctx context.Context, key, cmd string) (Result, error) {
	return p.Exec(ctx, key, Command{Cmd: cmd})
}

// Exec implements Pool: get, exec, release, retrying session-limit
// refusals with backoff on a fresh lease (which may land on a connection
// with more room).
//
// A connection-lost failure marked ErrNotStarted (the command never
// reached the server: the connection died while idle and nobody had
// noticed yet, as after a server host reboots) is retried on a fresh
// lease. The dead connection was marked unhealthy, so the retry lands on
// another connection or a new dial. At most MaxConnectionsPerKey such
// retries are made: a key cannot hold more connections that died unseen.
// A failure after the command started is never retried: it may have run.
func (p *pool) Exec(ctx context.Context, key string, c Command) (Result, error) {
	start := p.clock()
	res, err := p.execLimited(ctx, key, c)
	for n := 0; LostBeforeStart(err) && n < p.notStartedRetries(); n++ {
		p.stats.runRetries.Add(1)
		res, err = p.execLimited(ctx, key, c)
	}
	p.stats.runs.Add(1)
	p.stats.runNanos.Add(int64(p.clock().Sub(start)))
	if err != nil {
		p.stats.runErrors.Add(1)
	}
	return res, err
}

// execLimited is execOnce with session-limit retries on fresh leases.
func (p *pool) execLimited(ctx context.Context, key string, c Command) (Result, error) {
	res, err := p.execOnce(ctx, key, c)
	return p.retrySessionLimit(ctx, res, err, func() (Result, error) { return p.execOnce(ctx, key, c) })
}

// notStartedRetries returns how many not-started failures Exec retries.
func (p *pool) notStartedRetries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return NotStartedRetries(p.cfg)
}

// NotStartedRetries returns how many times Pool.Run and Pool.Exec run a
// command again after a failure before it started (LostBeforeStart) under
// cfg (defaults applied): MaxConnectionsPerKey, since a key cannot hold
// more connections that died unseen, or none when MaxRetries is negative.
// Callers that retry leases themselves (the legacy adapter) use it to
// follow the same rule.
func NotStartedRetries(cfg PoolConfig) int {
	if cfg.MaxRetries < 0 {
		return 0
	}
	return cfg.MaxConnectionsPerKey
}

// retrySessionLimit calls again while err is a session-limit refusal, up to
// MaxRetries times, pausing about attempt×RetryBackoff (with jitter) or
// until ctx ends.
func (p *pool) retrySessionLimit(ctx context.Context, res Result, err error, again func() (Result, error)) (Result, error) {
	if failure.Classify(err) != failure.SessionLimit {
		return res, err
	}
	retries, backoff := p.retryPolicy()
	for attempt := 1; attempt <= retries && failure.Classify(err) == failure.SessionLimit; attempt++ {
		if werr := ctxtime.Sleep(ctx, time.Duration(attempt)*backoff+randDuration(backoff)); werr != nil {
			return res, fmt.Errorf("pool: session-limit retry %d: %w (last: %w)", attempt, werr, err)
		}
		p.stats.sessionRetries.Add(1)
		res, err = again()
	}
	return res, err
}

// retryPolicy returns MaxRetries (0 when negative) and RetryBackoff.
func (p *pool) retryPolicy() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.cfg.MaxRetries, 0), p.cfg.Advanced.RetryBackoff
}

// execOnce leases a connection, runs c and releases the lease.
func (p *pool) execOnce(ctx context.Context, key string, c Command) (Result, error) {
	cl, err := p.Get(ctx, key)
	if err != nil {
		return Result{}, err
	}
	l := cl.(*lease)
	defer func() { _ = l.release() }() // cannot fail: l is ours and released once
	return l.exec(ctx, "Run", c, false)
}
