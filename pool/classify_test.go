package pool_test

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

	"github.com/sshpool/sshpool/pool"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want pool.ErrorKind
	}{
		{nil, pool.KindUnknown},
		{errors.New("x"), pool.KindUnknown},
		{&kindErr{pool.KindConfig}, pool.KindConfig},
		{&pool.ExitError{Result: pool.Result{ExitStatus: 2}}, pool.KindExit},
		{&ssh.ExitError{}, pool.KindExit},
		{&ssh.OpenChannelError{Reason: ssh.Prohibited}, pool.KindSessionLimit},
		{&ssh.OpenChannelError{Reason: ssh.ConnectionFailed}, pool.KindChannelRejected},
		{&knownhosts.RevokedError{}, pool.KindHostKeyRevoked},
		{&knownhosts.KeyError{}, pool.KindHostKeyUnknown},
		{&knownhosts.KeyError{Want: []knownhosts.KnownKey{{}}}, pool.KindHostKeyChanged},
		{&ssh.PassphraseMissingError{}, pool.KindConfig},
		{fmt.Errorf("w: %w", context.Canceled), pool.KindCanceled},
		{context.DeadlineExceeded, pool.KindTimeout},
		{syscall.ECONNREFUSED, pool.KindRefused},
		{syscall.ECONNRESET, pool.KindConnectionLost},
		{io.EOF, pool.KindConnectionLost},
		{&net.OpError{Op: "dial", Err: errors.New("no route")}, pool.KindRefused},
		{&net.DNSError{IsTimeout: true}, pool.KindDNSTemporary},
		{&net.OpError{Op: "dial", Err: &net.DNSError{IsTemporary: true}}, pool.KindDNSTemporary},
		{&net.OpError{Op: "dial", Err: &net.DNSError{IsNotFound: true}}, pool.KindDNSNotFound},
		{pool.ErrPoolClosed, pool.KindPoolClosed},
		{fmt.Errorf("wrapped: %w", pool.ErrPoolClosed), pool.KindPoolClosed},
	}
	for _, tc := range tests {
		if got := pool.Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%#v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorKindPredicates(t *testing.T) {
	if !pool.KindSessionLimit.Retryable() || pool.KindAuth.Retryable() {
		t.Error("Retryable")
	}
	if !pool.KindHostKeyChanged.Permanent() || pool.KindTimeout.Permanent() {
		t.Error("Permanent")
	}
	if !pool.KindDNSTemporary.Retryable() || pool.KindDNSNotFound.Retryable() || !pool.KindDNSNotFound.Permanent() ||
		pool.KindDNSNotFound.String() != "dns-not-found" || pool.KindDNSTemporary.String() != "dns-temporary" {
		t.Error("DNS kinds: not found is permanent, temporary is retryable")
	}
	if !pool.KindConnectionLost.ConnectionFatal() || pool.KindExit.ConnectionFatal() {
		t.Error("ConnectionFatal")
	}
	if pool.ErrorKind(99).String() != "ErrorKind(99)" || pool.KindPoolClosed.String() != "pool-closed" {
		t.Error("String")
	}
	e := &pool.ExitError{Result: pool.Result{Signal: "TERM"}}
	if e.Error() != "ssh: command killed by signal TERM" || (&pool.ExitError{Result: pool.Result{ExitStatus: 4}}).Error() != "ssh: command exited with status 4" {
		t.Error("ExitError messages")
	}
}

func TestNewKindError(t *testing.T) {
	sentinel := pool.NewKindError("x: gone", pool.KindConnectionLost)
	wrapped := fmt.Errorf("op on host: %w", sentinel)
	if !errors.Is(wrapped, sentinel) || pool.Classify(wrapped) != pool.KindConnectionLost || sentinel.Error() != "x: gone" {
		t.Fatalf("Is %v, Classify %v, Error %q", errors.Is(wrapped, sentinel), pool.Classify(wrapped), sentinel.Error())
	}
	if other := pool.NewKindError("x: gone", pool.KindConnectionLost); errors.Is(other, sentinel) {
		t.Fatal("two sentinels with the same text must be distinct")
	}
}
