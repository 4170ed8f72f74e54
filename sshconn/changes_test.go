package sshconn_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// otherHostLine returns a known_hosts line recording a key the server
// does not have under the server's address.
func otherHostLine(t *testing.T, e *env) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(randReader())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return knownhosts.Line([]string{e.srv.Addr()}, s.PublicKey())
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestChangedKeysReportsFixedInputs: a key whose dial failed permanently
// is reported once after a file it read changes (known_hosts rewritten,
// an identity file created), and not before; a successful dial forgets
// it; a transient failure is never recorded.
func TestChangedKeysReportsFixedInputs(t *testing.T) {
	e := newEnv(t)
	own := filepath.Join(e.dir, "known_hosts_identity") // right, and never changed
	writeFile(t, own, readFile(t, e.knownHosts))
	writeFile(t, e.knownHosts, otherHostLine(t, e)+"\n")
	missing := filepath.Join(e.dir, "id_new")
	reg := sshconn.NewRegistry()
	reg.Register("hostkey", e.target())
	noKey := e.target()
	noKey.Auth.IdentityFiles, noKey.KnownHostsFiles = []string{missing}, []string{own}
	reg.Register("identity", noKey)
	refused := e.target()
	refused.Port = closedPort(t)
	reg.Register("refused", refused)
	f := newFactory(reg)
	ctx := context.Background()

	if _, err := f.DialClient(ctx, "hostkey"); failure.Classify(err) != failure.HostKeyChanged {
		t.Fatalf("dial = %v, want host-key-changed", err)
	}
	if _, err := f.DialClient(ctx, "identity"); !failure.Classify(err).Permanent() {
		t.Fatalf("dial without the identity file = %v (%s), want a permanent error", err, failure.Classify(err))
	}
	if _, err := f.DialClient(ctx, "refused"); !failure.Classify(err).Retryable() {
		t.Fatalf("dial to a closed port = %v, want a retryable error", err)
	}
	if got := f.ChangedKeys(); len(got) != 0 {
		t.Fatalf("ChangedKeys before any change = %v", got)
	}

	writeFile(t, e.knownHosts, e.srv.KnownHostsLine()+"\n") // the operator fixes known_hosts
	if got := f.ChangedKeys(); !slices.Equal(got, []string{"hostkey"}) {
		t.Fatalf("ChangedKeys after known_hosts fixed = %v, want [hostkey]", got)
	}
	if got := f.ChangedKeys(); len(got) != 0 {
		t.Errorf("ChangedKeys reported twice: %v", got)
	}
	if err := os.Rename(e.keyFile, missing); err != nil { // the key appears
		t.Fatal(err)
	}
	if got := f.ChangedKeys(); !slices.Equal(got, []string{"identity"}) {
		t.Fatalf("ChangedKeys after the identity file appeared = %v, want [identity]", got)
	}
	c, err := f.DialClient(ctx, "identity")
	if err != nil {
		t.Fatalf("dial after the fix: %v", err)
	}
	defer c.Close()
}

// TestChangedKeysForgottenAfterSuccess: a key that dials again before its
// inputs change is not reported.
func TestChangedKeysForgottenAfterSuccess(t *testing.T) {
	e := newEnv(t)
	good := readFile(t, e.knownHosts)
	writeFile(t, e.knownHosts, otherHostLine(t, e)+"\n")
	reg := sshconn.NewRegistry()
	reg.Register("k", e.target())
	f := newFactory(reg)
	if _, err := f.DialClient(context.Background(), "k"); failure.Classify(err) != failure.HostKeyChanged {
		t.Fatalf("dial = %v", err)
	}
	writeFile(t, e.knownHosts, good)
	c, err := f.DialClient(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := f.ChangedKeys(); len(got) != 0 {
		t.Errorf("ChangedKeys after a successful dial = %v, want none", got)
	}
}

// TestPoolRetriesWhenKnownHostsFixed: a pool over a Factory, whose circuit
// for a key opened on a changed host key with a one-minute cooldown,
// serves the key again within a poll of known_hosts being fixed: the
// factory is the pool's ChangeDetector, with no wiring.
func TestPoolRetriesWhenKnownHostsFixed(t *testing.T) {
	e := newEnv(t)
	good := readFile(t, e.knownHosts)
	writeFile(t, e.knownHosts, otherHostLine(t, e)+"\n")
	reg := sshconn.NewRegistry()
	reg.Register("k", e.target())
	cfg := pool.PoolConfig{Advanced: pool.AdvancedPoolConfig{CircuitBaseCooldown: time.Minute, CircuitCooldown: time.Minute}}
	p := pool.NewPool(newFactory(reg), cfg, nil)
	defer p.Close()
	ctx := context.Background()
	if _, err := p.Run(ctx, "k", "true"); failure.Classify(err) != failure.HostKeyChanged {
		t.Fatalf("Run = %v, want host-key-changed", err)
	}
	if _, err := p.Run(ctx, "k", "true"); !errors.Is(err, pool.ErrCircuitOpen) {
		t.Fatalf("Run = %v, want circuit open", err)
	}
	fixed := time.Now()
	writeFile(t, e.knownHosts, good)
	for {
		_, err := p.Run(ctx, "k", "true")
		if err == nil {
			break
		}
		if time.Since(fixed) > 10*time.Second {
			t.Fatalf("Run still fails 10s after known_hosts was fixed (cooldown 1m): %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("served again %v after known_hosts was fixed (cooldown 1m)", time.Since(fixed).Round(time.Millisecond))
	if s := p.GetSnapshot(); s.Dials != 2 {
		t.Errorf("dials = %d, want the failure and one dial after the fix", s.Dials)
	}
}
