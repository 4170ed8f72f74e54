package otelsshpool_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newPool returns a pool over an in-process sshtest server registered as
// keys "web" and "web2", with tracer, closed at the end of the test.
func newPool(t testing.TB, cfg pool.PoolConfig, tracer *pool.Tracer) pool.Pool {
	t.Helper()
	srv := sshtest.NewServer(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{srv.Addr()}, srv.HostKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := sshconn.NewRegistry()
	for _, key := range []string{"web", "web2"} {
		reg.Register(key, sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: "alice",
			Auth: sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}}, KnownHostsFiles: []string{kh},
			DialTimeout: 10 * time.Second})
	}
	p := pool.NewPool(sshconn.NewFactory(reg), cfg, tracer)
	t.Cleanup(func() { p.Close() })
	return p
}
