package etcd

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sshpool/sshpool/featureflags"
)

// DefaultKey is the key that holds the flag document by default.
const DefaultKey = "/sshpool/flags"

// Defaults of Config's durations.
const (
	// DefaultDialTimeout bounds connecting (and authenticating) to etcd.
	DefaultDialTimeout = 2 * time.Second
	// DefaultRequestTimeout bounds one read or write, connecting included.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between two
	// attempts to reconnect: it doubles from the first to the second, with
	// jitter.
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
)

// Keepalive of the connection to etcd: a connection that answers no ping
// for keepAliveTime+keepAliveTimeout is declared dead, so a silent network
// failure is noticed within 15 s. etcd refuses pings more often than every
// 5 s by default (--grpc-keepalive-min-time).
const (
	keepAliveTime    = 10 * time.Second
	keepAliveTimeout = 5 * time.Second
)

// Config configures a Source or a Publisher. Endpoints is required; every
// other field has a default.
type Config struct {
	// Endpoints are etcd's client URLs ("https://10.0.0.1:2379") or
	// host:port pairs. A URL may not carry credentials. All must use the
	// same scheme; https (or a TLS config) means TLS.
	Endpoints []string
	// Key holds the flag document; default DefaultKey. The publisher keeps
	// its history under Key + "/history/".
	Key string
	// Username and Password authenticate to etcd when its auth is on.
	// Password is a secret: it appears in no log, error or name. A failed
	// authentication is not retried.
	Username string
	Password string
	// TLS configures TLS (server verification, client certificates); see
	// TLSFiles. Nil with https endpoints means TLS with the system's roots.
	TLS *tls.Config
	// DialTimeout bounds connecting and authenticating; default
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// RequestTimeout bounds one read or write; default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts; defaults DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxDocumentBytes caps a document read or published, in bytes;
	// default featureflags.DefaultMaxDocumentBytes. etcd itself refuses
	// requests over 1.5 MiB unless started with a larger
	// --max-request-bytes.
	MaxDocumentBytes int64
	// CacheFile, when set, is where the source keeps the last good document
	// it saw, so that an instance starting while etcd is unreachable routes
	// as the fleet last did instead of sending everything to the legacy
	// pool. See the package documentation. Default "": no cache.
	CacheFile string
	// Logger receives the source's own events (reconnections, compaction,
	// cache); default: discard. Flag values are never logged.
	Logger *slog.Logger
}

// normalized returns c with defaults applied, or the first invalid field.
func (c Config) normalized() (Config, error) {
	if c.Key == "" {
		c.Key = DefaultKey
	}
	setDefault(&c.DialTimeout, DefaultDialTimeout)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.MinBackoff, DefaultMinBackoff)
	setDefault(&c.MaxBackoff, DefaultMaxBackoff)
	if c.MaxDocumentBytes <= 0 {
		c.MaxDocumentBytes = featureflags.DefaultMaxDocumentBytes
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if strings.TrimSpace(c.Key) != c.Key || strings.ContainsAny(c.Key, "\x00\n") {
		return c, configError("Key", "%q has surrounding space or control characters", c.Key)
	}
	if (c.Username == "") != (c.Password == "") {
		return c, configError("Username", "a user name needs a password and a password a user name")
	}
	return c, c.checkEndpoints()
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// checkEndpoints requires at least one endpoint, each a host:port or an
// http(s) URL without credentials, all of one scheme, and TLS to match.
func (c *Config) checkEndpoints() error {
	if len(c.Endpoints) == 0 {
		return configError("Endpoints", "none given, want etcd client URLs such as https://10.0.0.1:2379")
	}
	schemes := map[string]bool{}
	for i, ep := range c.Endpoints {
		scheme, err := endpointScheme(ep)
		if err != nil {
			return configError("Endpoints", "[%d] %q: %v", i, redactURL(ep), err)
		}
		if scheme != "" { // host:port takes whatever TLS says
			schemes[scheme] = true
		}
	}
	switch {
	case len(schemes) > 1:
		return configError("Endpoints", "mix http and https, want one scheme")
	case schemes["http"] && c.TLS != nil:
		return configError("TLS", "set, but the endpoints are http:// (plain text): use https://")
	case schemes["https"] && c.TLS == nil:
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return nil
}

// endpointScheme returns "http", "https" or "" (host:port) for a valid
// endpoint.
func endpointScheme(ep string) (string, error) {
	if !strings.Contains(ep, "://") {
		_, _, err := net.SplitHostPort(ep)
		return "", err
	}
	u, err := url.Parse(ep)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errorf("scheme %q, want http or https", u.Scheme)
	case u.User != nil:
		return "", errorf("credentials in the URL: use Username and Password")
	case u.Port() == "":
		return "", errorf("no port")
	}
	return u.Scheme, nil
}

// redactURL hides a URL's user information.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// redacted stands for a password wherever a Config is printed.
const redacted = "[REDACTED]"

// printedConfig is Config without its methods, for Format.
type printedConfig Config

// Format prints c as fmt prints any struct, with Password shown as
// "[REDACTED]" when it is set: a Config printed with any verb (%v, %+v,
// %#v), as a value or a pointer, does not show the password.
func (c Config) Format(f fmt.State, verb rune) {
	if c.Password != "" {
		c.Password = redacted
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), printedConfig(c))
}

// LogValue makes slog log c as its endpoints, key, user name, whether it
// has a password ("[REDACTED]") and TLS, and its cache file.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Any("endpoints", c.Endpoints),
		slog.String("key", c.Key),
		slog.String("username", c.Username),
	}
	if c.Password != "" {
		attrs = append(attrs, slog.String("password", redacted))
	}
	return slog.GroupValue(append(attrs, slog.Bool("tls", c.TLS != nil), slog.String("cache_file", c.CacheFile))...)
}
