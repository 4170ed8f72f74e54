package legacy_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/open-feature/go-sdk/openfeature/memprovider"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// Example wires the migration layer on an in-process SSH server: the legacy
// pool and the new pool (through the adapter) behind a router, installed so
// that unchanged old call sites (GetConnectionPool) reach it. The flags send
// the server to the new pool; the kill switch sends it back.
func Example() {
	srv, _ := sshtest.Start()
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "legacy-example")
	defer os.RemoveAll(dir)
	keyFile, knownHosts, err := srv.WriteClientFiles(dir)
	if err != nil {
		log.Fatal(err)
	}

	reg := sshconn.NewRegistry()
	factory := sshconn.NewFactory(reg)
	legacyPool := legacy.NewConnectionPool(legacy.WithFactory(factory), legacy.WithRegistrar(registrar{reg}))
	defer legacyPool.Stop()
	newPool := pool.NewPool(factory, pool.PoolConfig{}, nil)
	defer newPool.Close()

	flags := memprovider.NewInMemoryProvider(flagSet(100, false))
	api := isolated.NewAPI()
	api.SetProviderAndWait(context.Background(), flags)
	defer api.Shutdown(context.Background())

	router := legacy.NewRouter(legacyPool, legacy.NewAdapter(newPool, registrar{reg}), api.NewClient(),
		legacy.WithDecisionHook(func(d legacy.Decision) { fmt.Printf("%s/%s ", d.Route, d.Reason) }))
	restore := legacy.Install(router)
	defer restore()

	server := &legacy.Server{ID: "web-1", Name: "web", Host: srv.Host(), Port: srv.Port(),
		AppUsername: "deploy", ManualKeyPath: keyFile, KnownHostsPath: knownHosts}
	// An old call site, unchanged.
	conn, err := legacy.GetConnectionPool().GetOrCreateConnection(server, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("connected")
	out, _ := conn.ExecuteCommand("whoami")
	fmt.Print(out)
	flags.UpdateFlags(flagSet(100, true))
	out, _ = conn.ExecuteCommand("echo rolled back")
	fmt.Print(out)
	// Output:
	// new/flag-on connected
	// new/flag-on deploy
	// legacy/kill-switch rolled back
}

// ExampleGetConnectionPool is the old API as old call sites use it, with
// no set-up: the singleton pool dials each server's settings (key file,
// known_hosts) itself, one shared connection per (server, user).
func ExampleGetConnectionPool() {
	srv, _ := sshtest.Start()
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "legacy-example")
	defer os.RemoveAll(dir)
	keyFile, knownHosts, err := srv.WriteClientFiles(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer legacy.ShutdownConnectionPool()

	server := legacy.NewServer() // the old model's defaults: port 22, users root and pocketbase, agent
	server.ID, server.Host, server.Port = "db-1", srv.Host(), srv.Port()
	server.ManualKeyPath, server.KnownHostsPath = keyFile, knownHosts
	conn, err := legacy.GetConnectionPool().GetOrCreateConnection(server, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := conn.ExecuteCommand("whoami")
	fmt.Print(out)
	_, err = conn.ExecuteCommand("exit 3")
	var ce *legacy.CommandError
	if errors.As(err, &ce) && strings.HasPrefix(err.Error(), "command failed: ") {
		fmt.Println("exit status", ce.ExitStatus(), "kind", failure.Classify(err))
	}
	for key, st := range legacy.GetConnectionPool().GetConnectionStatus() {
		fmt.Println(key[strings.LastIndex(key, ":db-1"):], st.Healthy, st.UseCount)
	}
	// Output:
	// root
	// exit status 3 kind exit
	// :db-1:root true 2
}
