package pool_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// exampleFactory starts an in-process SSH server on 127.0.0.1:0 and
// returns a factory that reaches it as key "web1". cleanup stops it.
func exampleFactory() (factory pool.ConnectionFactory, cleanup func()) {
	srv, err := sshtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pool-example")
	if err != nil {
		log.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	reg := sshconn.NewRegistry()
	for _, key := range []string{"web1", "web2", "web3"} {
		reg.Register(key, sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: "deploy",
			Auth: sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}}, KnownHostsFiles: []string{kh}})
	}
	return sshconn.NewFactory(reg), func() {
		srv.Close()
		os.RemoveAll(dir)
	}
}

// Get leases a connection, Release returns it; the connection stays open
// for the next caller.
func ExampleNewPool() {
	factory, cleanup := exampleFactory()
	defer cleanup()

	p := pool.NewPool(factory, pool.ProductionConfig(), nil)
	defer p.Close()

	ctx := context.Background()
	client, err := p.Get(ctx, "web1")
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.Run(ctx, "echo hello")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", res.Stdout)
	if err := p.Release("web1", client); err != nil {
		log.Fatal(err)
	}

	again, _ := p.Get(ctx, "web1") // reuses the same connection
	_ = again.Close()              // Close on a lease releases it; the connection stays open
	s := p.GetSnapshot()
	fmt.Println("dials:", s.Dials, "gets:", s.Gets, "outstanding:", s.LeasesOutstanding, "idle:", s.Idle)
	// Output:
	// hello
	// dials: 1 gets: 2 outstanding: 0 idle: 1
}

// Run is get, run, release in one call; a non-zero exit is an *ExitError
// and leaves the connection healthy.
func ExamplePool_run() {
	factory, cleanup := exampleFactory()
	defer cleanup()
	p := pool.NewPool(factory, pool.PoolConfig{}, nil)
	defer p.Close()

	ctx := context.Background()
	res, err := p.Run(ctx, "web1", "echo deployed")
	fmt.Printf("%s%v\n", res.Stdout, err)

	_, err = p.Run(ctx, "web1", "exit 3")
	var exit *pool.ExitError
	fmt.Println(errors.As(err, &exit), exit.Result.ExitStatus, failure.Classify(err))
	fmt.Println("healthy:", p.GetSnapshot().Healthy)
	// Output:
	// deployed
	// <nil>
	// true 3 exit
	// healthy: 1
}

// A Get that cannot be served before its context ends says why, and
// wraps the context's error.
func ExamplePool_get_exhausted() {
	factory, cleanup := exampleFactory()
	defer cleanup()
	cfg := pool.PoolConfig{MaxConnectionsPerKey: 1, MaxSessionsPerConnection: 1}
	p := pool.NewPool(factory, cfg, nil)
	defer p.Close()

	held, _ := p.Get(context.Background(), "web1")
	defer p.Release("web1", held)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := p.Get(ctx, "web1")
	fmt.Println(errors.Is(err, pool.ErrPoolExhausted), errors.Is(err, context.DeadlineExceeded))
	// Output: true true
}

// Releasing twice is safe: the second call reports ErrLeaseReleased and
// counts nothing.
func ExamplePool_release() {
	factory, cleanup := exampleFactory()
	defer cleanup()
	p := pool.NewPool(factory, pool.PoolConfig{}, nil)
	defer p.Close()

	c, _ := p.Get(context.Background(), "web1")
	fmt.Println(p.Release("web1", c))
	fmt.Println(p.Release("web1", c))
	fmt.Println(p.GetSnapshot().LeasesOutstanding)
	// Output:
	// <nil>
	// pool: lease already released
	// 0
}

// ValidatePoolConfig names each bad field and its allowed range.
func ExampleValidatePoolConfig() {
	err := pool.ValidatePoolConfig(pool.PoolConfig{MaxSessionsPerConnection: 2000, WaitTimeout: -time.Second})
	fmt.Println(err)
	// Output:
	// pool: config: MaxSessionsPerConnection = 2000, want 1..1024
	// pool: config: WaitTimeout = -1s, want >= 0 (0 = default or disabled)
}

// ApplyTuning sizes the limits for a workload.
func ExamplePoolConfig_ApplyTuning() {
	var cfg pool.PoolConfig
	cfg.ApplyTuning(pool.Workload{Keys: 20, ConcurrencyPerKey: 12, CommandDuration: 500 * time.Millisecond})
	fmt.Println(cfg.MaxConnectionsPerKey, cfg.MaxConnections, cfg.WaitTimeout)
	// Output: 2 40 2s
}

// Start runs the pool's health loop and cleanup; PoolHealthMonitor picks
// the probe per key, HealthCheck gives a readiness verdict, and Subscribe
// streams health events.
func ExamplePoolHealthMonitor() {
	factory, cleanup := exampleFactory()
	defer cleanup()

	monitor := pool.NewPoolHealthMonitor(pool.HealthConfig{}) // keepalive@openssh.com
	monitor.SetKeyConfig("web1", pool.HealthConfig{Command: "true", Timeout: 2 * time.Second, Threshold: 2})
	cfg := pool.ProductionConfig()
	cfg.Advanced.HealthMonitor = monitor
	p := pool.NewPool(factory, cfg, nil)
	defer p.Close()
	events, cancel := p.SubscribeHealth(16)
	defer cancel()

	ctx := context.Background()
	if err := p.Start(ctx); err != nil { // health and cleanup loops, warm-up
		log.Fatal(err)
	}
	if _, err := p.Run(ctx, "web1", "true"); err != nil {
		log.Fatal(err)
	}
	rep := p.HealthCheck(ctx)
	fmt.Println("status:", rep.Status, "ready:", rep.Ready(), "checked:", rep.Checked)

	_, err := p.Run(ctx, "db9", "true") // an unknown key: a permanent error opens its circuit
	_, err2 := p.Run(ctx, "db9", "true")
	fmt.Println(err != nil, errors.Is(err2, pool.ErrCircuitOpen))
	fmt.Println("event:", (<-events).Type)
	rep = p.HealthCheck(ctx) // web1 still serves: one bad host does not fail readiness
	fmt.Println("status:", rep.Status, "ready:", rep.Ready())
	// Output:
	// status: healthy ready: true checked: 1
	// true true
	// event: circuit-open
	// status: degraded ready: true
}

// After a permanent failure a key's circuit is open: calls fail fast until
// its next trial. When something that may fix the failure changed (here the
// server accepts the key again; in a service, a reloaded configuration or a
// rewritten key file), RetryNow lets the next call dial at once.
func ExamplePool_RetryNow() {
	srv, err := sshtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "pool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	reg := sshconn.NewRegistry()
	for _, key := range []string{"web1", "web2", "web3"} {
		reg.Register(key, sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: "deploy",
			Auth: sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}}, KnownHostsFiles: []string{kh}})
	}
	cfg := pool.PoolConfig{Advanced: pool.AdvancedPoolConfig{CircuitBaseCooldown: time.Minute, CircuitCooldown: time.Minute}}
	p := pool.NewPool(sshconn.NewFactory(reg), cfg, nil)
	defer p.Close()

	ctx := context.Background()
	srv.FailAuth(true)
	_, err = p.Run(ctx, "web1", "true")
	fmt.Println("first call:", failure.Classify(err))
	_, err = p.Run(ctx, "web1", "true")
	fmt.Println("second call: circuit open:", errors.Is(err, pool.ErrCircuitOpen))

	srv.FailAuth(false) // fixed
	fmt.Println("rearmed:", p.RetryNow("web1"))
	res, err := p.Run(ctx, "web1", "echo back")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print("third call: ", string(res.Stdout))
	// Output:
	// first call: auth
	// second call: circuit open: true
	// rearmed: 1
	// third call: back
}

// mostUsed is a custom eviction strategy: any type with Name and
// SelectVictim. It evicts the idle connection that served the most leases.
type mostUsed struct{}

func (mostUsed) Name() string { return "most-used" }

func (mostUsed) SelectVictim(candidates []pool.EntryInfo) int {
	best := 0
	for i, c := range candidates {
		if c.UseCount > candidates[best].UseCount {
			best = i
		}
	}
	return best
}

// At MaxConnections a new key evicts an idle connection: LRU by default,
// FIFO, or a strategy of your own.
func ExampleEvictionStrategy() {
	factory, cleanup := exampleFactory()
	defer cleanup()
	cfg := pool.DevelopmentConfig()
	cfg.MaxConnections = 2
	p := pool.NewPool(factory, cfg, nil)
	defer p.Close()
	p.SetEvictionStrategy(mostUsed{})

	ctx := context.Background()
	for _, key := range []string{"web2", "web1", "web1", "web1"} {
		if _, err := p.Run(ctx, key, "true"); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := p.Run(ctx, "web3", "true"); err != nil { // evicts web1, used 3 times; LRU would evict web2
		log.Fatal(err)
	}
	var keys []string
	for _, e := range p.Entries() {
		keys = append(keys, e.Key)
	}
	sort.Strings(keys)
	fmt.Println(keys, pool.LRU().Name(), pool.FIFO().Name())
	// Output: [web2 web3] lru fifo
}
