package legacy

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the SSH port used when Server.Port is zero.
const DefaultPort = 22

// Server is a managed host, with the old service's model's fields, JSON and
// db tags and meanings, so that porting old code is a type rename
// (models.Server → legacy.Server, models.NewServer → legacy.NewServer). The
// last three fields are additions; the old model has no equivalent. Server
// holds no secret: PasswordRef and KeyPassphraseRef name environment
// variables, never the secrets themselves.
//
// How a Server's fields become dial parameters (agent, keys, known_hosts,
// host key policy) is documented on Target.
type Server struct {
	// ID identifies the server; it is part of the pool key and the
	// targeting key of the routing flags. Required.
	ID string `json:"id" db:"id"`
	// Created and Updated are the record's timestamps; the pools ignore
	// them.
	Created time.Time `json:"created" db:"created"`
	Updated time.Time `json:"updated" db:"updated"`
	// Name is a human-readable name ("web-1"), reported to flags as
	// serverName.
	Name string `json:"name" db:"name"`
	// Host is the DNS name or IP address to connect to. Required.
	Host string `json:"host" db:"host"`
	// Port is the SSH port; zero means DefaultPort.
	Port int `json:"port" db:"port"`
	// RootUsername is the user of asRoot connections.
	RootUsername string `json:"root_username" db:"root_username"`
	// AppUsername is the user of application (non-root) connections.
	AppUsername string `json:"app_username" db:"app_username"`
	// UseSSHAgent offers the keys of the SSH agent ($SSH_AUTH_SOCK) first.
	UseSSHAgent bool `json:"use_ssh_agent" db:"use_ssh_agent"`
	// ManualKeyPath is a private key file offered after the agent's keys;
	// empty means none.
	ManualKeyPath string `json:"manual_key_path" db:"manual_key_path"`
	// SetupComplete records that the server's initial setup ran; the pools
	// ignore it.
	SetupComplete bool `json:"setup_complete" db:"setup_complete"`
	// SecurityLocked records that the server was hardened. Its host key is
	// then checked strictly: an unknown host is refused instead of recorded
	// on first use.
	SecurityLocked bool `json:"security_locked" db:"security_locked"`
	// ProxyEmail is the old model's reverse-proxy contact; the pools ignore
	// it.
	ProxyEmail string `json:"proxy_email" db:"proxy_email"`

	// KnownHostsPath replaces ~/.ssh/known_hosts as the file host keys are
	// checked against (and recorded in); empty means ~/.ssh/known_hosts.
	KnownHostsPath string `json:"known_hosts_path,omitempty" db:"-"`
	// KeyPassphraseRef names the environment variable holding the
	// passphrase of encrypted key files; empty means none.
	KeyPassphraseRef string `json:"key_passphrase_ref,omitempty" db:"-"`
	// PasswordRef names the environment variable holding the password for
	// password and keyboard-interactive authentication, read at dial time;
	// empty means no password authentication.
	PasswordRef string `json:"password_ref,omitempty" db:"-"`
}

// The old model's defaults, set by NewServer.
const (
	DefaultRootUsername = "root"
	DefaultAppUsername  = "pocketbase"
)

// NewServer returns a Server with the old model's defaults: port 22, root
// user "root", application user "pocketbase", the SSH agent enabled, setup
// not complete and not security-locked. With ID and Host set it connects
// out of the box with the old pool's defaults (see Target).
func NewServer() *Server {
	return &Server{
		Port:         DefaultPort,
		RootUsername: DefaultRootUsername,
		AppUsername:  DefaultAppUsername,
		UseSSHAgent:  true,
	}
}

// TableName returns "servers", the old model's collection name.
func (s *Server) TableName() string { return "servers" }

// GetSSHAddress returns Host when the port is 22 (or zero), else
// "host:port", as the old model did.
func (s *Server) GetSSHAddress() string {
	if s.EffectivePort() == DefaultPort {
		return s.Host
	}
	return s.Addr()
}

// IsReadyForDeployment reports whether the server's setup is complete.
func (s *Server) IsReadyForDeployment() bool { return s.SetupComplete }

// IsFullySecured reports whether the setup is complete and the server is
// security-locked.
func (s *Server) IsFullySecured() bool { return s.SetupComplete && s.SecurityLocked }

// IsSetupComplete returns SetupComplete.
func (s *Server) IsSetupComplete() bool { return s.SetupComplete }

// IsSecurityLocked returns SecurityLocked.
func (s *Server) IsSecurityLocked() bool { return s.SecurityLocked }

// sameServer reports whether a and b are the same server to the pools:
// equal but for the fields they ignore (Created, Updated, SetupComplete,
// ProxyEmail). Handlers build a Server from its record per request; a new
// timestamp must not make it another server (a new connection, a skipped
// dial backoff).
func sameServer(a, b *Server) bool {
	x, y := *a, *b
	x.Created, x.Updated, x.SetupComplete, x.ProxyEmail = time.Time{}, time.Time{}, false, ""
	y.Created, y.Updated, y.SetupComplete, y.ProxyEmail = time.Time{}, time.Time{}, false, ""
	return x == y
}

// Validate reports whether s has what a connection needs: an ID, a host, a
// port in range and a user name for the requested role.
func (s *Server) Validate(asRoot bool) error {
	switch {
	case s == nil:
		return fmt.Errorf("%w: nil server", ErrInvalidServer)
	case s.ID == "":
		return fmt.Errorf("%w: empty ID", ErrInvalidServer)
	case s.Host == "":
		return fmt.Errorf("%w: server %s: empty host", ErrInvalidServer, s.ID)
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("%w: server %s: port %d out of range 0..65535", ErrInvalidServer, s.ID, s.Port)
	case s.User(asRoot) == "":
		return fmt.Errorf("%w: server %s: no %s user name", ErrInvalidServer, s.ID, role(asRoot))
	}
	return nil
}

// User returns RootUsername when asRoot is true, else AppUsername.
func (s *Server) User(asRoot bool) string {
	if asRoot {
		return s.RootUsername
	}
	return s.AppUsername
}

// EffectivePort returns Port, or DefaultPort when Port is zero.
func (s *Server) EffectivePort() int {
	if s.Port == 0 {
		return DefaultPort
	}
	return s.Port
}

// Addr returns "host:port" for dialing.
func (s *Server) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.EffectivePort()))
}

// LogValue reports the identifying fields only, so a Server can be logged
// with slog without leaking anything secret-adjacent.
func (s *Server) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID), slog.String("name", s.Name),
		slog.String("host", s.Host), slog.Int("port", s.EffectivePort()))
}

// Key returns the old pool's map key for server and role,
// "host:port:id:root" or "host:port:id:app". GetConnectionStatus reports
// connections under it, RemoveConnection takes it, and the legacy pool and
// the adapter dial it through their factory or pool.
//
// In the ID, '%' and ':' are written %25 and %3A, so the key is read back
// from the right without ambiguity and two servers share a key only when
// host, port, ID and role are all the same: unescaped, ID "x:1:y" on host
// "h" port 22 and ID "y" on host "h:22:x" port 1 were both "h:22:x:1:y:app",
// one pool entry dialled with whichever server registered last. IDs
// without either character keep the key they always had. A zero port is
// written 22 (the old pool wrote 0, which it then could not dial).
func Key(server *Server, asRoot bool) string {
	var port [20]byte // the port's digits, kept off the heap: the key is the one allocation
	id := server.ID
	if strings.ContainsAny(id, "%:") { // rare; the replacer would look each byte up in its 256-entry table
		id = keyEscaper.Replace(id)
	}
	return server.Host + ":" + string(strconv.AppendInt(port[:0], int64(server.EffectivePort()), 10)) + ":" +
		id + ":" + role(asRoot)
}

var keyEscaper = strings.NewReplacer("%", "%25", ":", "%3A")

func role(asRoot bool) string {
	if asRoot {
		return "root"
	}
	return "app"
}

// TargetRegistrar turns a Server into dial parameters for a key before the
// key is dialled. The default dialer of NewConnectionPool registers
// Server.Target in a registry of its own; the wiring (package providers)
// registers the same Target in the SSH factory's registry; tests implement
// it with their own dialer.
//
// RegisterServer may be called more than once for a key (before every dial
// of the legacy pool; by the adapter when the Server's settings change) and
// from several goroutines; it must be idempotent and safe for concurrent
// use. An error stops the dial and is returned to the caller.
type TargetRegistrar interface {
	RegisterServer(key string, server *Server, asRoot bool) error
}

// TargetRegistrarFunc adapts a function to TargetRegistrar.
type TargetRegistrarFunc func(key string, server *Server, asRoot bool) error

// RegisterServer calls f(key, server, asRoot).
func (f TargetRegistrarFunc) RegisterServer(key string, server *Server, asRoot bool) error {
	return f(key, server, asRoot)
}

// registrars calls several TargetRegistrars in order.
type registrars []TargetRegistrar

func (rs registrars) RegisterServer(key string, s *Server, asRoot bool) error {
	for _, r := range rs {
		if err := r.RegisterServer(key, s, asRoot); err != nil {
			return err
		}
	}
	return nil
}
