// Package oldservice is call-site code of the old singleton pool, written
// as the services that used it wrote it, after the port: the two import
// lines changed (the old ssh package and the old models package are both
// package legacy now), every call site as it was. TestOldCallSitesCompile
// builds and vets it, so that no change to package legacy can break a
// ported service silently. It covers every form of the old API.
package oldservice

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	models "github.com/sshpool/sshpool/legacy"
	ssh "github.com/sshpool/sshpool/legacy"
)

// serverFromRecord builds the old model from a database record, as the old
// handlers did.
func serverFromRecord(id string, rec map[string]any) *models.Server {
	return &models.Server{
		ID:             id,
		Name:           rec["name"].(string),
		Host:           rec["host"].(string),
		Port:           rec["port"].(int),
		RootUsername:   rec["root_username"].(string),
		AppUsername:    rec["app_username"].(string),
		UseSSHAgent:    rec["use_ssh_agent"].(bool),
		ManualKeyPath:  rec["manual_key_path"].(string),
		SetupComplete:  rec["setup_complete"].(bool),
		SecurityLocked: rec["security_locked"].(bool),
		Created:        time.Now(),
		Updated:        time.Now(),
		ProxyEmail:     "",
	}
}

// newServer uses the old constructor's defaults.
func newServer(host string) *models.Server {
	s := models.NewServer()
	s.Host = host
	_ = s.GetSSHAddress()
	_ = s.IsReadyForDeployment() || s.IsFullySecured() || s.IsSetupComplete() || s.IsSecurityLocked()
	_ = s.TableName()
	return s
}

// startup is the old main's start-up and shutdown.
func startup(onTerminate func(func())) {
	connectionManager := ssh.GetConnectionManager()
	initialStatus := connectionManager.GetConnectionStatus()
	fmt.Println("active_connections", len(initialStatus))
	if cleaned := connectionManager.CleanupConnections(); cleaned > 0 {
		fmt.Println("cleaned", cleaned)
	}
	onTerminate(func() {
		finalStatus := connectionManager.GetConnectionStatus()
		fmt.Println("active_connections", len(finalStatus))
		connectionManager.Shutdown()
	})
}

// service is the old SSHService.
type service struct {
	connectionManager *ssh.ConnectionManager
}

func newService() *service { return &service{connectionManager: ssh.NewConnectionManager()} }

func (s *service) run(server *models.Server, asRoot bool, command string) (string, error) {
	if command == "" {
		return "", fmt.Errorf("command cannot be empty")
	}
	output, err := s.connectionManager.ExecuteCommand(server, asRoot, command)
	if err != nil && strings.Contains(err.Error(), "failed to get connection") {
		return output, fmt.Errorf("unreachable: %w", err)
	}
	return output, err
}

func (s *service) stream(server *models.Server, command string) error {
	output := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range output {
			if strings.HasPrefix(msg, "[ERR] ") {
				fmt.Println("stderr:", strings.TrimPrefix(msg, "[ERR] "))
			} else {
				fmt.Println(strings.TrimPrefix(msg, "[OUT] "))
			}
		}
	}()
	err := s.connectionManager.ExecuteCommandStream(server, true, command, output)
	close(output)
	<-done
	return err
}

func (s *service) test(server *models.Server) error {
	return s.connectionManager.TestConnection(server, false)
}

func (s *service) status() map[string]ssh.ConnectionHealthStatus {
	return s.connectionManager.GetConnectionStatus()
}

// setup uses a pooled connection and its manager, as the old setup and
// diagnostics did.
func setup(server *models.Server) error {
	pool := ssh.GetConnectionPool()
	conn, err := pool.GetOrCreateConnection(server, true)
	if err != nil {
		return fmt.Errorf("failed to get SSH connection for setup: %w", err)
	}
	var pc *ssh.PooledConnection = conn
	manager := pc.GetManager()
	if manager == nil {
		return fmt.Errorf("failed to get SSH manager from pooled connection")
	}
	if err := manager.RunCommand("apt-get update"); err != nil {
		return err
	}
	if _, err := manager.ExecuteCommand("uname -a"); err != nil {
		return err
	}
	_ = manager.TestConnection()
	_ = manager.IsConnected() && manager.IsRoot() && manager.GetUsername() != "" && manager.GetServer() != nil
	if err := conn.TestHealth(); err != nil {
		return fmt.Errorf("connection established but health check failed: %v", err)
	}
	if !conn.IsHealthy() {
		return fmt.Errorf("not healthy")
	}
	conn.UpdateLastUsed()
	out, err := conn.ExecuteCommand("echo ok")
	if err != nil {
		if strings.Contains(err.Error(), "connection is not healthy") || strings.HasPrefix(err.Error(), "command failed") {
			return err
		}
	}
	_ = out
	lines := make(chan string, 10)
	_ = conn.ExecuteCommandStream("ls", lines)
	return nil
}

// poolAdmin uses the pool's own API, as health endpoints and tests did.
func poolAdmin() ([]byte, error) {
	pool := ssh.NewConnectionPool()
	pool.Start()
	defer pool.Stop()
	status := pool.GetConnectionStatus()
	for key, st := range status {
		var h ssh.ConnectionHealthStatus = st
		fmt.Println(key, h.Healthy, h.LastUsed.Format(time.RFC3339), h.Age, h.UseCount, h.LastError, h.ResponseTime)
		if !h.Healthy {
			pool.RemoveConnection(key)
		}
	}
	removed := pool.CleanupStaleConnections(15 * time.Minute)
	fmt.Println("removed", removed)
	global := ssh.GetConnectionPool()
	conn, err := global.GetOrCreateConnection(newServer("10.0.0.1"), false)
	if err == nil {
		var st ssh.ConnectionHealthStatus = conn.GetHealthStatus()
		_ = st
		_ = conn.Close()
	}
	return json.Marshal(status)
}
