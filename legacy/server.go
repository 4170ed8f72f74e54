package legacy

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is the SSH port used when Server.Port is zero.
const DefaultPort = 22

// Server is a managed host as the old service modelled it. It holds no
// secret: PasswordRef names where a password can be found (a secret store
// key or an environment variable), never the password itself.
type Server struct {
	// ID identifies the server; it is part of the pool key and the
	// targeting key of the routing flags. Required.
	ID string
	// Name is a human-readable name ("web-1"), reported to flags as
	// serverName.
	Name string
	// Host is the DNS name or IP address to connect to. Required.
	Host string
	// Port is the SSH port; zero means DefaultPort.
	Port int
	// RootUsername is the user for asRoot connections.
	RootUsername string
	// AppUsername is the user for application (non-root) connections.
	AppUsername string
	// UseAgent makes the dialer authenticate with the SSH agent
	// (SSH_AUTH_SOCK).
	UseAgent bool
	// KeyPath is a private key file to authenticate with; empty means none.
	KeyPath string
	// KeyPassphraseRef names where the key's passphrase can be found; empty
	// means the key is not encrypted.
	KeyPassphraseRef string
	// PasswordRef names where the password can be found; empty means no
	// password authentication.
	PasswordRef string
	// KnownHostsPath overrides the known_hosts file used to verify the host
	// key; empty means the dialer's default. Host keys are always verified.
	KnownHostsPath string
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
// "host:port:id:root" or "host:port:id:app". The legacy pool and the adapter
// dial this key through their factory or pool.
//
// In the ID, '%' and ':' are written %25 and %3A, so the key is read back
// from the right without ambiguity and two servers share a key only when
// host, port, ID and role are all the same: unescaped, ID "x:1:y" on host
// "h" port 22 and ID "y" on host "h:22:x" port 1 were both "h:22:x:1:y:app",
// one pool entry dialled with whichever server registered last. IDs
// without either character keep the key they always had.
func Key(server *Server, asRoot bool) string {
	return server.Host + ":" + strconv.Itoa(server.EffectivePort()) + ":" + keyEscaper.Replace(server.ID) + ":" + role(asRoot)
}

var keyEscaper = strings.NewReplacer("%", "%25", ":", "%3A")

func role(asRoot bool) string {
	if asRoot {
		return "root"
	}
	return "app"
}

// TargetRegistrar turns a Server into dial parameters for a key before the
// key is first dialed. The wiring implements it on sshconn's registry
// (host, port, User(asRoot), agent, key file, password reference,
// known_hosts); tests implement it with their own dialer.
//
// RegisterServer may be called more than once for a key (for example after
// the server's settings changed) and from several goroutines; it must be
// idempotent and safe for concurrent use. An error stops the dial and is
// returned to the caller.
type TargetRegistrar interface {
	RegisterServer(key string, server *Server, asRoot bool) error
}

// TargetRegistrarFunc adapts a function to TargetRegistrar.
type TargetRegistrarFunc func(key string, server *Server, asRoot bool) error

// RegisterServer calls f(key, server, asRoot).
func (f TargetRegistrarFunc) RegisterServer(key string, server *Server, asRoot bool) error {
	return f(key, server, asRoot)
}
