// guide:file before/main.go
package main

import (
	"fmt"
	"log"

	"github.com/sshpool/sshpool/legacy"
)

// deployedVersion is an old call site, unchanged since the singleton was
// written (legacy.GetConnectionPool is the old ssh.GetConnectionPool).
func deployedVersion(server *legacy.Server) (string, error) {
	conn, err := legacy.GetConnectionPool().GetOrCreateConnection(server, false)
	if err != nil {
		return "", err
	}
	return conn.ExecuteCommand("cat /etc/app/VERSION")
}

func main() {
	server := &legacy.Server{ID: "web-1", Name: "web", Host: "10.0.0.5",
		AppUsername: "deploy", KeyPath: "/etc/app/id_ed25519"}
	out, err := deployedVersion(server)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out)
}
