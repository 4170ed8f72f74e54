// guide:file deploy/deployer.go
package deploy

import (
	"fmt"
	"strings"

	"github.com/sshpool/sshpool/legacy"
)

// Deployer reads and changes what is deployed on managed servers.
type Deployer struct {
	conns legacy.ConnectionProvider
}

// NewDeployer returns a Deployer using conns (the router in production).
func NewDeployer(conns legacy.ConnectionProvider) *Deployer {
	return &Deployer{conns: conns}
}

// Version returns the version deployed on server.
func (d *Deployer) Version(server *legacy.Server) (string, error) {
	conn, err := d.conns.GetOrCreateConnection(server, false)
	if err != nil {
		return "", fmt.Errorf("deploy: %s: %w", server.ID, err)
	}
	out, err := conn.ExecuteCommand("cat /etc/app/VERSION")
	return strings.TrimSpace(out), err
}
