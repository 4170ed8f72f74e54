package failure_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/failure"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want failure.Kind
	}{
		{nil, failure.Unknown},
		{errors.New("x"), failure.Unknown},
		{failure.New("bad config", failure.Config), failure.Config},
		{&ssh.ExitError{}, failure.Exit},
		{&ssh.OpenChannelError{Reason: ssh.Prohibited}, failure.SessionLimit},
		{&ssh.OpenChannelError{Reason: ssh.ConnectionFailed}, failure.ChannelRejected},
		{&knownhosts.RevokedError{}, failure.HostKeyRevoked},
		{&knownhosts.KeyError{}, failure.HostKeyUnknown},
		{&knownhosts.KeyError{Want: []knownhosts.KnownKey{{}}}, failure.HostKeyChanged},
		{&ssh.PassphraseMissingError{}, failure.Config},
		{fmt.Errorf("w: %w", context.Canceled), failure.Canceled},
		{context.DeadlineExceeded, failure.Timeout},
		{syscall.ECONNREFUSED, failure.Refused},
		{syscall.ECONNRESET, failure.ConnectionLost},
		{io.EOF, failure.ConnectionLost},
		{&net.OpError{Op: "dial", Err: errors.New("no route")}, failure.Refused},
		{&net.DNSError{IsTimeout: true}, failure.DNSTemporary},
		{&net.OpError{Op: "dial", Err: &net.DNSError{IsTemporary: true}}, failure.DNSTemporary},
		{&net.OpError{Op: "dial", Err: &net.DNSError{IsNotFound: true}}, failure.DNSNotFound},
		{failure.New("closed", failure.PoolClosed), failure.PoolClosed},
		{fmt.Errorf("wrapped: %w", failure.New("closed", failure.PoolClosed)), failure.PoolClosed},
	}
	for _, tc := range tests {
		if got := failure.Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%#v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorKindPredicates(t *testing.T) {
	if !failure.SessionLimit.Retryable() || failure.Auth.Retryable() {
		t.Error("Retryable")
	}
	if !failure.HostKeyChanged.Permanent() || failure.Timeout.Permanent() {
		t.Error("Permanent")
	}
	if !failure.DNSTemporary.Retryable() || failure.DNSNotFound.Retryable() || !failure.DNSNotFound.Permanent() ||
		failure.DNSNotFound.String() != "dns-not-found" || failure.DNSTemporary.String() != "dns-temporary" {
		t.Error("DNS kinds: not found is permanent, temporary is retryable")
	}
	if !failure.ConnectionLost.ConnectionFatal() || failure.Exit.ConnectionFatal() {
		t.Error("ConnectionFatal")
	}
	if failure.Kind(99).String() != "Kind(99)" || failure.PoolClosed.String() != "pool-closed" {
		t.Error("String")
	}
}

func TestNew(t *testing.T) {
	sentinel := failure.New("x: gone", failure.ConnectionLost)
	wrapped := fmt.Errorf("op on host: %w", sentinel)
	if !errors.Is(wrapped, sentinel) || failure.Classify(wrapped) != failure.ConnectionLost || sentinel.Error() != "x: gone" {
		t.Fatalf("Is %v, Classify %v, Error %q", errors.Is(wrapped, sentinel), failure.Classify(wrapped), sentinel.Error())
	}
	if other := failure.New("x: gone", failure.ConnectionLost); errors.Is(other, sentinel) {
		t.Fatal("two sentinels with the same text must be distinct")
	}
}
