package sshconn

import (
	"context"
	"fmt"
	"time"
)

// SendKeepalive sends keepalive@openssh.com with want-reply and returns the
// round-trip time. OpenSSH answers with a failure reply, which means alive;
// only a transport error means dead. The probe is bounded by ctx and by
// Target.KeepaliveTimeout (default DefaultKeepaliveTimeout); a probe that
// does not answer in time closes the client, because a wedged connection
// would otherwise block forever. The error then wraps ErrKeepaliveTimeout
// (our timeout) or ctx.Err() (the caller's context).
func (c *Client) SendKeepalive(ctx context.Context) (time.Duration, error) {
	if err := c.usable(); err != nil {
		return 0, err
	}
	pctx, cancel := context.WithTimeout(ctx, c.keepaliveTimeout)
	defer cancel()
	start := time.Now()
	ch := make(chan error, 1)
	go func() {
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		ch <- err
	}()
	select {
	case err := <-ch:
		if err != nil {
			return time.Since(start), c.opError("keepalive", err)
		}
		return time.Since(start), nil
	case <-pctx.Done():
		rtt := time.Since(start)
		_ = c.Close()
		<-ch // Close made SendRequest return
		return rtt, c.keepaliveTimeoutError(ctx, rtt)
	}
}

func (c *Client) keepaliveTimeoutError(ctx context.Context, waited time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sshconn: keepalive on %s: %w (client closed)", c.target.Addr(), err)
	}
	return fmt.Errorf("%w on %s after %v (client closed)", ErrKeepaliveTimeout, c.target.Addr(), waited.Round(time.Millisecond))
}
