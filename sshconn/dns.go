package sshconn

import (
	"errors"
	"fmt"
	"net"

	"github.com/sshpool/sshpool/failure"
)

// DNSError reports that the host name to connect to could not be
// resolved. Kind: failure.DNSNotFound (the name does not exist: not
// retried, the configuration must change) or failure.DNSTemporary (the
// resolver failed or timed out: retried with backoff).
type DNSError struct {
	// Host is the host as the user wrote it (the key's host or ssh_config
	// alias).
	Host string
	// HostName is the name that was looked up (ssh_config HostName).
	HostName string
	// Err is the resolver's error.
	Err *net.DNSError
}

// Error names the host as written and the HostName looked up.
func (e *DNSError) Error() string {
	what := "temporary DNS failure"
	if e.notFound() {
		what = "no such host"
	}
	if e.Host != "" && e.Host != e.HostName {
		return fmt.Sprintf("sshconn: cannot resolve host %q (HostName %q): %s: %v", e.Host, e.HostName, what, e.Err)
	}
	return fmt.Sprintf("sshconn: cannot resolve host %q: %s: %v", e.HostName, what, e.Err)
}

// Unwrap returns the resolver's error.
func (e *DNSError) Unwrap() error { return e.Err }

// ErrorKind returns failure.DNSNotFound or failure.DNSTemporary.
func (e *DNSError) ErrorKind() failure.Kind {
	if e.notFound() {
		return failure.DNSNotFound
	}
	return failure.DNSTemporary
}

func (e *DNSError) notFound() bool {
	return e.Err.IsNotFound && !e.Err.IsTemporary && !e.Err.IsTimeout
}

// dnsFailure turns a dial error caused by name resolution into a
// *DNSError for t.
func dnsFailure(t Target, err error) error {
	var de *net.DNSError
	if err == nil || !errors.As(err, &de) {
		return err
	}
	return &DNSError{Host: firstNonEmpty(t.Alias, t.Host), HostName: t.Host, Err: de}
}
