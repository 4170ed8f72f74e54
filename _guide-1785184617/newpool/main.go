// guide:file newpool/main.go
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
	"github.com/sshpool/sshpool/sshconn"
)

// deployedVersion takes the pool and a context: cancellation, deadlines
// and limits now apply.
func deployedVersion(ctx context.Context, p pool.Pool, key string) (string, error) {
	res, err := p.Run(ctx, key, "cat /etc/app/VERSION")
	if err != nil {
		return "", err
	}
	return string(res.Stdout), nil
}

func main() {
	p, cleanup, err := sshpool.InitializePool(providers.Config{
		Pool: pool.ProductionConfig(),
		Targets: map[string]sshconn.Target{"web-1": {Host: "10.0.0.5", User: "deploy",
			Auth: sshconn.Auth{IdentityFiles: []string{"/etc/app/id_ed25519"}}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := deployedVersion(ctx, p, "web-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out)
}
