package sshconn_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/sshconn"
)

// fakeDNS answers every query on 127.0.0.1 with rcode (3: NXDOMAIN, 2:
// SERVFAIL) and returns a resolver that asks it.
func fakeDNS(t *testing.T, rcode byte) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			resp := append([]byte(nil), buf[:n]...)
			flags := binary.BigEndian.Uint16(resp[2:4])
			flags |= 0x8000 | 0x0080              // response, recursion available
			flags = flags&^0x000f | uint16(rcode) // rcode
			binary.BigEndian.PutUint16(resp[2:4], flags)
			_, _ = pc.WriteTo(resp, addr)
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// TestDNSFailures: a name that does not exist is failure.DNSNotFound and not
// retried; a failing resolver is failure.DNSTemporary and retried; both name
// the host as written and the HostName looked up, not "refused".
func TestDNSFailures(t *testing.T) {
	for _, tc := range []struct {
		rcode    byte
		kind     failure.Kind
		attempts int
		what     string
	}{
		{3, failure.DNSNotFound, 1, "no such host"},
		{2, failure.DNSTemporary, 1 + sshconn.DefaultMaxRetries, "temporary DNS failure"},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			res := fakeDNS(t, tc.rcode)
			cfg := "Host web\n  HostName web.internal.sshpool.test\n  User u\n"
			r := &sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, cfg),
				Defaults: sshconn.Target{Auth: sshconn.Auth{Signers: signers(t)}}}
			attempts := 0
			_, err := newFactory(r, sshconn.WithNetResolver(res),
				sshconn.WithAttemptHook(func(string, int, error) { attempts++ })).DialClient(context.Background(), "web")
			var de *sshconn.DNSError
			if !errors.As(err, &de) || failure.Classify(err) != tc.kind || attempts != tc.attempts {
				t.Fatalf("err = %v (kind %v) after %d attempts; want a DNSError of kind %v after %d", err, failure.Classify(err), attempts, tc.kind, tc.attempts)
			}
			for _, want := range []string{`host "web"`, `HostName "web.internal.sshpool.test"`, tc.what} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %s", err, want)
				}
			}
		})
	}
}
