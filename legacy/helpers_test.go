package legacy_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// registrar registers a Server's Target (legacy.Server.Target, the old
// pool's mapping) in an sshconn.Registry, as providers.Registrar does.
type registrar struct{ reg *sshconn.Registry }

func (r registrar) RegisterServer(key string, s *legacy.Server, asRoot bool) error {
	t := s.Target(asRoot)
	t.Key = key
	r.reg.Register(key, t)
	return nil
}

// env is one sshtest server with a client key file, a known_hosts file
// that trusts it, and an sshconn factory over a registry.
type env struct {
	srv        *sshtest.Server  // nil on real sshd
	sshd       *sshdtest.Server // nil on sshtest
	host       string
	port       int
	rootUser   string
	appUser    string
	reg        *sshconn.Registry
	registrar  registrar
	factory    *sshconn.Factory
	keyFile    string
	knownHosts string
	dir        string
}

func newEnv(t testing.TB, opts ...sshtest.Option) *env {
	t.Helper()
	opts = append([]sshtest.Option{sshtest.WithHandler(testHandler)}, opts...)
	srv := sshtest.NewServer(t, opts...)
	dir := t.TempDir()
	e := &env{srv: srv, host: srv.Host(), port: srv.Port(), rootUser: "root", appUser: "app", dir: dir,
		keyFile: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts")}
	must(t, os.WriteFile(e.keyFile, srv.ClientKeyPEM(), 0o600))
	must(t, os.WriteFile(e.knownHosts, []byte(srv.KnownHostsLine()+"\n"), 0o600))
	e.init()
	return e
}

// newSSHDEnv is an env on a private real OpenSSH sshd (skipped where sshd
// is missing, except on CI). Both roles log in as the sshd's test user: root
// would run root's shell start-up files around every command.
func newSSHDEnv(t testing.TB) *env {
	t.Helper()
	srv := sshdtest.Start(t)
	e := &env{sshd: srv, host: srv.Host(), port: srv.Port(), rootUser: srv.User(), appUser: srv.User(),
		dir: t.TempDir(), keyFile: srv.ClientKeyPath(), knownHosts: srv.KnownHostsPath()}
	e.init()
	return e
}

// testHandler is sshtest.DefaultHandler plus two commands a shell would
// compose: "mixed" prints "a" on standard output, "b" on standard error
// and "c" on standard output, 20 ms apart; "errexit N TEXT..." prints TEXT
// on standard error and exits N.
func testHandler(ctx context.Context, s *sshtest.Session) int {
	switch {
	case s.Command == "mixed":
		for i, l := range []string{"a", "b", "c"} {
			w := s.Stdout
			if i == 1 {
				w = s.Stderr
			}
			io.WriteString(w, l+"\n")
			time.Sleep(20 * time.Millisecond)
		}
		return 0
	case len(s.Args) > 1 && s.Args[0] == "errexit":
		io.WriteString(s.Stderr, strings.Join(s.Args[2:], " ")+"\n")
		code, _ := strconv.Atoi(s.Args[1])
		return code
	}
	return sshtest.DefaultHandler(ctx, s)
}

// blockCommand is a command that newBlockingEnv's server runs until the
// test releases it.
const blockCommand = "block"

// newBlockingEnv is newEnv on a server that runs blockCommand until release
// is called (or its session ends) and every other command as sshtest's
// DefaultHandler does: a test holds a command in flight for as long as it
// needs, however slow the machine. Cleanup releases it.
func newBlockingEnv(t testing.TB) (e *env, release func()) {
	t.Helper()
	released := make(chan struct{})
	release = sync.OnceFunc(func() { close(released) })
	e = newEnv(t, sshtest.WithHandler(func(ctx context.Context, s *sshtest.Session) int {
		if s.Command != blockCommand {
			return testHandler(ctx, s)
		}
		select {
		case <-released:
			return 0
		case <-ctx.Done():
			return sshtest.ExitSignalled
		}
	}))
	t.Cleanup(release)
	return e, release
}

func (e *env) init() {
	e.reg = sshconn.NewRegistry()
	e.registrar = registrar{e.reg}
	e.factory = sshconn.NewFactory(e.reg, sshconn.WithMaxRetries(0))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// server returns a Server on the env's sshtest server.
func (e *env) server(id string) *legacy.Server {
	return &legacy.Server{ID: id, Name: "srv-" + id, Host: e.host, Port: e.port,
		RootUsername: e.rootUser, AppUsername: e.appUser, ManualKeyPath: e.keyFile, KnownHostsPath: e.knownHosts}
}

// untrusted returns a SecurityLocked Server whose known_hosts does not
// list the host key: its host key is checked strictly, so it is refused.
func (e *env) untrusted(id string) *legacy.Server {
	s := e.server(id)
	s.SecurityLocked = true
	s.KnownHostsPath = filepath.Join(e.dir, "empty_known_hosts")
	os.WriteFile(s.KnownHostsPath, nil, 0o600)
	return s
}

// changedKey returns a Server whose known_hosts records another key for
// the host: refused whatever the policy (possible man in the middle).
func (e *env) changedKey(t testing.TB, id string) *legacy.Server {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	must(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	must(t, err)
	s := e.server(id)
	s.KnownHostsPath = filepath.Join(e.dir, "changed_known_hosts_"+id)
	line := knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort(e.host, itoa(e.port)))}, signer.PublicKey())
	must(t, os.WriteFile(s.KnownHostsPath, []byte(line+"\n"), 0o600))
	return s
}

// unknownHost returns a Server whose known_hosts file is empty and which is
// not SecurityLocked: its key is recorded on first use (accept-new).
func (e *env) unknownHost(id string) *legacy.Server {
	s := e.server(id)
	s.KnownHostsPath = filepath.Join(e.dir, "new_known_hosts_"+id)
	return s
}

// down returns a Server on a loopback port nobody listens on.
func (e *env) down(t testing.TB, id string) *legacy.Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := e.server(id)
	s.Port = port
	return s
}

// legacyPool returns a legacy pool on the env, stopped at cleanup.
func (e *env) legacyPool(t testing.TB, opts ...legacy.Option) *legacy.ConnectionPool {
	opts = append([]legacy.Option{legacy.WithFactory(e.factory), legacy.WithRegistrar(e.registrar)}, opts...)
	p := legacy.NewConnectionPool(opts...)
	t.Cleanup(p.Stop)
	return p
}

// newPool returns a new pool (package pool) on the env, closed at cleanup.
func (e *env) newPool(t testing.TB) pool.Pool {
	p := pool.NewPool(e.factory, pool.PoolConfig{}, nil)
	t.Cleanup(func() { p.Close() })
	return p
}

// adapter returns an adapter over a new pool on the env.
func (e *env) adapter(t testing.TB, opts ...legacy.Option) (*legacy.Adapter, pool.Pool) {
	p := e.newPool(t)
	return legacy.NewAdapter(p, e.registrar, opts...), p
}

// minimalAdapter returns an adapter over a leasePool, whose DropIdle serves
// as the adapter's idle dropper.
func (e *env) minimalAdapter(t testing.TB, opts ...legacy.Option) (*legacy.Adapter, *leasePool) {
	lp := newLeasePool(e.factory)
	t.Cleanup(lp.Close)
	opts = append([]legacy.Option{legacy.WithIdleDropper(lp.DropIdle)}, opts...)
	return legacy.NewAdapter(lp, e.registrar, opts...), lp
}

// leasePool is a minimal LeasePool (one shared client per key, dialed on
// demand, leases counted) with a DropIdle that package pool does not offer,
// to test the adapter's idle-dropper hook.
type leasePool struct {
	factory pool.ConnectionFactory
	mu      sync.Mutex // guards clients and leases
	clients map[string]pool.SSHClient
	leases  map[string]int
	gets    int
}

func newLeasePool(f pool.ConnectionFactory) *leasePool {
	return &leasePool{factory: f, clients: map[string]pool.SSHClient{}, leases: map[string]int{}}
}

func (p *leasePool) Get(ctx context.Context, key string) (pool.SSHClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gets++
	c := p.clients[key]
	if c == nil || !c.Alive() {
		var err error
		if c, err = p.factory.Dial(ctx, key); err != nil {
			return nil, err
		}
		p.clients[key] = c
	}
	p.leases[key]++
	return c, nil
}

func (p *leasePool) Release(key string, c pool.SSHClient) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leases[key]--
	return nil
}

// DropIdle closes key's client if no lease holds it.
func (p *leasePool) DropIdle(key string) bool {
	p.mu.Lock()
	c := p.clients[key]
	idle := c != nil && p.leases[key] == 0
	if idle {
		delete(p.clients, key)
	}
	p.mu.Unlock()
	if idle {
		c.Close()
	}
	return idle
}

func (p *leasePool) outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.leases {
		n += l
	}
	return n
}

func (p *leasePool) Close() {
	p.mu.Lock()
	clients := p.clients
	p.clients = map[string]pool.SSHClient{}
	p.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
