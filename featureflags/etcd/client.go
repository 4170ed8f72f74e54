package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
)

// recvSlack is what a response may carry besides the document (headers,
// the key, a watch response's other fields).
const recvSlack = 2 << 20

// newClient returns an etcd client for c. Creating it does no I/O unless
// Username is set: the client then authenticates at once, bounded by
// DialTimeout, and fails when etcd is unreachable or refuses the password.
// The connection retries with c's backoff.
func newClient(ctx context.Context, c Config) (*clientv3.Client, error) {
	cc := clientv3.Config{
		Endpoints:            c.Endpoints,
		TLS:                  c.TLS,
		Username:             c.Username,
		Password:             c.Password,
		DialTimeout:          c.DialTimeout,
		DialKeepAliveTime:    keepAliveTime,
		DialKeepAliveTimeout: keepAliveTimeout,
		MaxCallRecvMsgSize:   int(min(c.MaxDocumentBytes+recvSlack, 1<<31-1)),
		Context:              ctx,
		Logger:               zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: c.MinBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: c.MaxBackoff},
			// The time one connection attempt may take.
			MinConnectTimeout: c.DialTimeout,
		})},
	}
	cli, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("etcd: connect to %s: %w", strings.Join(c.Endpoints, ","), classify(err))
	}
	return cli, nil
}

// classify turns the deadline of an authentication that found no endpoint
// into ErrUnreachable; other errors are returned as they are.
func classify(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// permanent reports whether retrying cannot help: a refused password.
func permanent(err error) bool {
	return errors.Is(err, rpctypes.ErrAuthFailed) || errors.Is(err, rpctypes.ErrAuthNotEnabled)
}

// waitReady waits, at most d, for cli's connection to be ready, asking it
// to connect when it is idle.
func waitReady(ctx context.Context, cli *clientv3.Client, d time.Duration) error {
	conn := cli.ActiveConnection()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		st := conn.GetState()
		switch st {
		case connectivity.Ready:
			return nil
		case connectivity.Idle:
			conn.Connect()
		}
		if !conn.WaitForStateChange(ctx, st) {
			if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("%w: no endpoint ready within %v (connection %s)", ErrUnreachable, d, lower(st))
		}
	}
}
