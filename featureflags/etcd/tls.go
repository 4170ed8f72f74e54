package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// maxPEMBytes bounds one certificate or key file.
const maxPEMBytes = 1 << 20

// TLSFiles names the PEM files of a TLS connection to etcd.
type TLSFiles struct {
	// CAFile holds the certificates that may sign etcd's server
	// certificate; empty means the system's roots.
	CAFile string
	// CertFile and KeyFile are a client certificate and its key, for an
	// etcd started with --client-cert-auth; both or neither.
	CertFile, KeyFile string
	// ServerName is the name expected in the server's certificate; empty
	// means the endpoint's host.
	ServerName string
}

// Config reads the files and returns the TLS configuration (TLS 1.2 at
// least, server verified). It returns nil, nil when no field is set. Each
// file is read bounded: a regular file once links are resolved (a FIFO or
// a device such as /dev/zero is refused before anything is read), of at
// most 1 MiB (a CA bundle of a few hundred certificates), within 5 s; a
// failed read is an ErrConfig error naming the field and the file.
func (f TLSFiles) Config() (*tls.Config, error) {
	if f == (TLSFiles{}) {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	if f.CAFile != "" {
		pem, err := inputfile.Read(f.CAFile, inputfile.Limits{MaxBytes: maxPEMBytes})
		if err != nil {
			return nil, configError("TLS CA file", "%v", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, configError("TLS CA file", "%s holds no PEM certificate", f.CAFile)
		}
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, configError("TLS certificate", "a client certificate needs its key file and a key its certificate file")
	}
	if f.CertFile != "" {
		cert, err := loadKeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := inputfile.Read(certFile, inputfile.Limits{MaxBytes: maxPEMBytes})
	if err != nil {
		return tls.Certificate{}, configError("TLS certificate file", "%v", err)
	}
	keyPEM, err := inputfile.Read(keyFile, inputfile.Limits{MaxBytes: maxPEMBytes})
	if err != nil {
		return tls.Certificate{}, configError("TLS key file", "%v", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The parse error never quotes the key's bytes.
		return tls.Certificate{}, configError("TLS certificate", "%s and %s: %v", certFile, keyFile, err)
	}
	return cert, nil
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
