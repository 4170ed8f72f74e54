package sshconn_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// Dial a registered target on an in-process sshtest server and run a
// command.
func ExampleFactory() {
	srv, err := sshtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "sshconn-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	reg := sshconn.NewRegistry()
	reg.Register("demo", sshconn.Target{
		Host: srv.Host(), Port: srv.Port(), User: "alice",
		Auth:            sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}},
		KnownHostsFiles: []string{knownHosts},
	})
	factory := sshconn.NewFactory(sshconn.Chain{reg, sshconn.Plain{}})

	ctx := context.Background()
	client, err := factory.Dial(ctx, "demo")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	res, err := client.Run(ctx, "echo hello")
	fmt.Printf("%s", res.Stdout)
	_, err = client.Run(ctx, "exit 3")
	var exitErr *pool.ExitError
	fmt.Println(errors.As(err, &exitErr), exitErr.Result.ExitStatus, failure.Classify(err))
	// Output:
	// hello
	// true 3 exit
}

// Secrets never print.
func ExampleSecret() {
	pw := sshconn.NewSecret("hunter2")
	fmt.Println(pw, fmt.Sprintf("%#v %q", pw, pw))
	// Output: [REDACTED] [REDACTED] [REDACTED]
}

func ExampleParseKey() {
	user, host, port, _ := sshconn.ParseKey("deploy@[2001:db8::1]:2222")
	fmt.Println(user, host, port)
	// Output: deploy 2001:db8::1 2222
}
