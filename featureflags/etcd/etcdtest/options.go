package etcdtest

import "time"

// Binary is where Debian's etcd-server package installs etcd.
const Binary = "/usr/bin/etcd"

// Option configures a Server.
type Option func(*options)

type options struct {
	binary       string
	tls          bool
	startTimeout time.Duration
}

func newOptions(opts []Option) *options {
	o := &options{binary: Binary, startTimeout: 30 * time.Second}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithBinary runs the etcd binary at path instead of Binary.
func WithBinary(path string) Option {
	return func(o *options) { o.binary = path }
}

// WithTLS serves clients over TLS with client certificate authentication:
// the server's certificate is signed by a CA generated for the server,
// which also signs the client certificate that ClientConfig and
// TLSConfig present. Endpoints are then https://.
func WithTLS() Option {
	return func(o *options) { o.tls = true }
}

// WithStartTimeout bounds how long New (and Restart) wait for etcd to
// report itself healthy; default 30 s.
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}
