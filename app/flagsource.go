package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/inputfile"
)

// Flag source kinds, the values of flags.source.
const (
	// FlagSourceFile reads the flag document from flags.file (the default).
	FlagSourceFile = "file"
	// FlagSourceEtcd follows the flag document in etcd (flags.etcd). app
	// does not import etcd: the program registers the source with
	// WithFlagSource (module github.com/sshpool/sshpool/featureflags/etcd,
	// package etcdapp, provides it; the sshpool CLI has it).
	FlagSourceEtcd = "etcd"
)

// EtcdSection configures the etcd flag source (flags.source: etcd): one
// key in an etcd cluster holds the fleet's flag document. Password is a
// secret: redacted on export; prefer PasswordEnv.
type EtcdSection struct {
	// Endpoints are etcd's client URLs ("https://10.0.0.1:2379"); required.
	Endpoints []string `koanf:"endpoints"`
	// Key holds the document; default /sshpool/flags.
	Key string `koanf:"key"`
	// Username authenticates to etcd, with Password or with the password
	// in the variable PasswordEnv (read at start-up).
	Username    string `koanf:"username"`
	Password    string `koanf:"password"`
	PasswordEnv string `koanf:"password_env"`
	// CAFile verifies etcd's certificate (empty: the system's roots);
	// CertFile and KeyFile are a client certificate; ServerName the name
	// expected in etcd's certificate. https endpoints use TLS.
	CAFile     string `koanf:"ca_file"`
	CertFile   string `koanf:"cert_file"`
	KeyFile    string `koanf:"key_file"`
	ServerName string `koanf:"server_name"`
	// DialTimeout bounds connecting, default 2s; RequestTimeout one read,
	// default 5s.
	DialTimeout    time.Duration `koanf:"dial_timeout"`
	RequestTimeout time.Duration `koanf:"request_timeout"`
	// CacheFile keeps the last good document, so that an instance starting
	// while etcd is down routes as the fleet last did; empty (default)
	// means no cache: such an instance routes everything to legacy until
	// etcd answers.
	CacheFile string `koanf:"cache_file"`
}

// FlagSourceFunc builds the flag source of a flags section (its Etcd
// section, say), logging to logger. It does no network I/O: the provider
// reads the source when the graph is built.
type FlagSourceFunc func(flags FlagsSection, logger *slog.Logger) (featureflags.Source, error)

// WithFlagSource makes the module build the flag source with f when
// flags.source is kind (FlagSourceEtcd). Without it, a config naming that
// source fails the module's construction with an error saying so.
func WithFlagSource(kind string, f FlagSourceFunc) Option {
	return func(o *moduleOptions) {
		if o.flagSources == nil {
			o.flagSources = map[string]FlagSourceFunc{}
		}
		o.flagSources[kind] = f
	}
}

// sourceProblems checks flags.source and, for etcd, flags.etcd.
func (f FlagsSection) sourceProblems(e *ConfigError) {
	switch f.Source {
	case "", FlagSourceFile:
		return
	case FlagSourceEtcd:
	default:
		e.add("flags.source", inputfile.Excerpt(f.Source, 0), "want file or etcd")
		return
	}
	s := f.Etcd
	if f.File != "" {
		e.add("flags.file", inputfile.Excerpt(f.File, 0), "is set but flags.source is etcd: the document comes from etcd; remove one")
	}
	if len(s.Endpoints) == 0 {
		e.add("flags.etcd.endpoints", "", "is empty, want etcd client URLs such as https://10.0.0.1:2379")
	}
	if s.Password != "" && s.PasswordEnv != "" {
		e.add("flags.etcd.password_env", inputfile.Excerpt(s.PasswordEnv, 0), "is set with flags.etcd.password; keep one")
	}
	if s.Username == "" && (s.Password != "" || s.PasswordEnv != "") {
		e.add("flags.etcd.username", "", "is empty but a password is set")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"flags.etcd.dial_timeout", s.DialTimeout}, {"flags.etcd.request_timeout", s.RequestTimeout}} {
		if d.v < 0 || (d.v > 0 && d.v < time.Millisecond) {
			e.add(d.key, d.v.String(), "want at least 1ms, or 0 for the default")
		}
	}
}

// flagSource builds the configured source with the registered function;
// nil for the flag file.
func (o moduleOptions) flagSource(f FlagsSection, logger *slog.Logger) (featureflags.Source, error) {
	if f.Source == "" || f.Source == FlagSourceFile {
		return nil, nil
	}
	build := o.flagSources[f.Source]
	if build == nil {
		return nil, fmt.Errorf("config: flags.source is %s, but this program was built without the %s flag source: "+
			"pass app.WithFlagSource(%q, ...) to app.Module (package etcdapp of module github.com/sshpool/sshpool/featureflags/etcd provides it; the sshpool CLI has it)",
			f.Source, f.Source, f.Source)
	}
	src, err := build(f, logger)
	if err != nil {
		return nil, fmt.Errorf("config: flags.%s: %w", f.Source, err)
	}
	return src, nil
}
