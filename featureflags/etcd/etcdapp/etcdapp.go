// Package etcdapp connects the etcd flag source to package app: a program
// that runs app.Module passes Option() (or app.WithFlagSource with
// Source), and a config with flags.source: etcd then follows the flag
// document in etcd. It lives apart from package etcd so that the etcd
// source can be used without app, fx and koanf.
package etcdapp

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/etcd"
)

// Option registers Source for flags.source: etcd.
func Option() app.Option { return app.WithFlagSource(app.FlagSourceEtcd, Source) }

// Source returns the etcd source of a flags section (app.FlagSourceFunc).
// It reads the TLS files and the password variable; it does no network
// I/O.
func Source(f app.FlagsSection, logger *slog.Logger) (featureflags.Source, error) {
	cfg, err := Config(f, logger)
	if err != nil {
		return nil, err
	}
	return etcd.NewSource(cfg)
}

// Config converts a flags section to an etcd.Config (for a Source or a
// Publisher): endpoints, key, credentials (the password from
// flags.etcd.password_env when set), TLS from the PEM files, timeouts, the
// cache file and the document size cap (flags.max_bytes).
func Config(f app.FlagsSection, logger *slog.Logger) (etcd.Config, error) {
	s := f.Etcd
	tc, err := etcd.TLSFiles{CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, ServerName: s.ServerName}.Config()
	if err != nil {
		return etcd.Config{}, err
	}
	password := s.Password
	if s.PasswordEnv != "" {
		v, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return etcd.Config{}, fmt.Errorf("password_env: the variable %s is not set", s.PasswordEnv)
		}
		password = v
	}
	return etcd.Config{
		Endpoints:        s.Endpoints,
		Key:              s.Key,
		Username:         s.Username,
		Password:         password,
		TLS:              tc,
		DialTimeout:      s.DialTimeout,
		RequestTimeout:   s.RequestTimeout,
		MaxDocumentBytes: f.MaxBytes,
		CacheFile:        s.CacheFile,
		Logger:           logger,
	}, nil
}
