package legacy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/pool"
)

// fakeClient is an in-memory pool.SSHClient for time-dependent tests under
// testing/synctest: "echo X" prints X, "exit N" exits N, and once broken
// every command fails with io.EOF (a lost connection).
type fakeClient struct {
	broken atomic.Bool
	closed atomic.Bool
	once   sync.Once
	done   chan struct{}
	runs   atomic.Int64
}

func newFakeClient() *fakeClient { return &fakeClient{done: make(chan struct{})} }

func (c *fakeClient) Run(ctx context.Context, cmd string) (pool.Result, error) {
	return c.Exec(ctx, pool.Command{Cmd: cmd})
}

func (c *fakeClient) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	c.runs.Add(1)
	if c.broken.Load() || c.closed.Load() {
		return pool.Result{ExitStatus: -1}, io.EOF
	}
	args := strings.Fields(cmd.Cmd)
	if len(args) > 0 && args[0] == "echo" && cmd.Stdout != nil {
		io.WriteString(cmd.Stdout, strings.Join(args[1:], " ")+"\n")
	}
	if len(args) == 2 && args[0] == "exit" && args[1] != "0" {
		res := pool.Result{ExitStatus: len(args[1])}
		return res, &pool.ExitError{Result: res}
	}
	return pool.Result{}, nil
}

func (c *fakeClient) NewSession(context.Context) (*ssh.Session, error) {
	return nil, errors.New("fake: no sessions")
}

func (c *fakeClient) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("fake: no tunnels")
}

func (c *fakeClient) SendKeepalive(context.Context) (time.Duration, error) { return 0, nil }
func (c *fakeClient) Alive() bool                                          { return !c.closed.Load() }
func (c *fakeClient) Done() <-chan struct{}                                { return c.done }
func (c *fakeClient) Err() error                                           { return nil }
func (c *fakeClient) Client() *ssh.Client                                  { return nil }
func (c *fakeClient) RemoteAddr() net.Addr                                 { return &net.TCPAddr{} }

func (c *fakeClient) Close() error {
	c.once.Do(func() { c.closed.Store(true); close(c.done) })
	return nil
}

// errHostKeyChanged is a host-key mismatch as knownhosts reports it.
var errHostKeyChanged = &knownhosts.KeyError{Want: []knownhosts.KnownKey{{Filename: "known_hosts", Line: 1}}}

// fakeFactory dials fakeClients and remembers them; while fail is set,
// every dial fails with it.
type fakeFactory struct {
	mu       sync.Mutex // guards clients
	clients  []*fakeClient
	fail     atomic.Pointer[error]
	attempts atomic.Int64
}

func (f *fakeFactory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	f.attempts.Add(1)
	if p := f.fail.Load(); p != nil {
		return nil, *p
	}
	c := newFakeClient()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clients = append(f.clients, c)
	return c, nil
}

func (f *fakeFactory) dials() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}

func (f *fakeFactory) client(i int) *fakeClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clients[i]
}
