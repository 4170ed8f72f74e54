package sshconn_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"go.uber.org/goleak"

	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(removeRelayAfter{m})
}

// env is an sshtest server plus the files a client needs for it: a
// known_hosts file that records its host key and an identity file holding
// its client key.
type env struct {
	t          testing.TB
	srv        *sshtest.Server
	dir        string
	knownHosts string
	keyFile    string
}

func newEnv(t testing.TB, opts ...sshtest.Option) *env {
	t.Helper()
	srv := sshtest.NewServer(t, opts...)
	dir := t.TempDir()
	e := &env{t: t, srv: srv, dir: dir,
		knownHosts: filepath.Join(dir, "known_hosts"), keyFile: filepath.Join(dir, "id_ed25519")}
	writeFile(t, e.knownHosts, srv.KnownHostsLine()+"\n")
	writeFile(t, e.keyFile, string(srv.ClientKeyPEM()))
	return e
}

// target returns a Target for the server authenticating with the key file.
func (e *env) target() sshconn.Target {
	return sshconn.Target{
		Host: e.srv.Host(), Port: e.srv.Port(), User: "alice",
		Auth:            sshconn.Auth{IdentityFiles: []string{e.keyFile}},
		KnownHostsFiles: []string{e.knownHosts},
		DialTimeout:     10 * time.Second,
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// logBuffer collects slog output safely across goroutines.
type logBuffer struct{ capture.Buffer }

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// newFactory returns a factory over r with a discarding logger and no
// backoff sleeps.
func newFactory(r sshconn.Resolver, opts ...sshconn.FactoryOption) *sshconn.Factory {
	base := []sshconn.FactoryOption{sshconn.WithLogger(discardLogger()), sshconn.WithSleep(noSleep)}
	return sshconn.NewFactory(r, append(base, opts...)...)
}

// dialTarget dials t through a fresh factory and closes the client at the
// end of the test.
func dialTarget(t testing.TB, tgt sshconn.Target, opts ...sshconn.FactoryOption) (*sshconn.Client, error) {
	t.Helper()
	reg := sshconn.NewRegistry()
	reg.Register("k", tgt)
	c, err := newFactory(reg, opts...).DialClient(context.Background(), "k")
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func mustDial(t testing.TB, tgt sshconn.Target, opts ...sshconn.FactoryOption) *sshconn.Client {
	t.Helper()
	c, err := dialTarget(t, tgt, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", tgt, err)
	}
	return c
}

func mustRun(t testing.TB, c *sshconn.Client, cmd string) string {
	t.Helper()
	res, err := c.Run(context.Background(), cmd)
	if err != nil {
		t.Fatalf("run %q: %v", cmd, err)
	}
	return strings.TrimSpace(string(res.Stdout))
}

func randReader() io.Reader { return rand.Reader }

// writePlainKey writes priv as an unencrypted OpenSSH key file (mode 0600)
// in a temp dir and returns its path.
func writePlainKey(t testing.TB, priv ed25519.PrivateKey) string {
	t.Helper()
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_plain")
	writeFile(t, path, string(pem.EncodeToMemory(blk)))
	return path
}
