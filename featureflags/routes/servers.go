package routes

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/legacy"
)

// MaxServersFileBytes caps a servers file (4 MiB).
const MaxServersFileBytes = 4 << 20

// serversFile is the part of the configuration LoadServers reads: its
// targets, keyed by name. Other sections and target keys are ignored.
type serversFile struct {
	Targets map[string]struct {
		Host string `yaml:"host"`
		Port int    `yaml:"port"`
		User string `yaml:"user"`
	} `yaml:"targets"`
}

// LoadServers reads the targets of a configuration file (YAML or JSON, as
// the service's config is written; other sections are ignored) as servers:
// each target key is the server's ID and name, its user serves both roles.
// The read is bounded (regular file, MaxServersFileBytes, a deadline).
// Errors name the file and the target.
func LoadServers(path string) ([]legacy.Server, error) {
	data, err := inputfile.Read(path, inputfile.Limits{MaxBytes: MaxServersFileBytes})
	if err != nil {
		return nil, fmt.Errorf("routes: servers file: %w", err)
	}
	var f serversFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("routes: servers file %s: %w", path, err)
	}
	if len(f.Targets) == 0 {
		return nil, fmt.Errorf("routes: servers file %s: no targets (want targets: {NAME: {host: ..., port: ..., user: ...}})", path)
	}
	names := make([]string, 0, len(f.Targets))
	for n := range f.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]legacy.Server, 0, len(names))
	for _, n := range names {
		t := f.Targets[n]
		s := TargetServer(n, t.Host, t.Port, t.User)
		if err := check(&s); err != nil {
			return nil, fmt.Errorf("routes: servers file %s: targets.%s: %w", path, n, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// TargetServer is the server a configuration target stands for, wherever
// the project reads a config's targets as servers (LoadServers, the admin
// server's /debug/routes): the target's key is the server's ID and name,
// and its user serves both roles.
func TargetServer(key, host string, port int, user string) legacy.Server {
	return legacy.Server{ID: key, Name: key, Host: host, Port: port, AppUsername: user, RootUsername: user}
}

// ParseServer reads a server from a specification of comma-separated
// key=value pairs: id (required), host (required), port, user, root_user,
// name; e.g. "id=web-1,host=web1.example.com,user=deploy". user serves
// both roles unless root_user is given.
func ParseServer(spec string) (legacy.Server, error) {
	var s legacy.Server
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return s, fmt.Errorf("routes: server %s: %s is not key=value", inputfile.Excerpt(spec, 0), inputfile.Excerpt(kv, 0))
		}
		switch strings.TrimSpace(k) {
		case "id":
			s.ID = v
		case "host":
			s.Host = v
		case "port":
			p, err := strconv.Atoi(v)
			if err != nil {
				return s, fmt.Errorf("routes: server %s: port %s is not a number", inputfile.Excerpt(spec, 0), inputfile.Excerpt(v, 0))
			}
			s.Port = p
		case "user":
			s.AppUsername = v
			if s.RootUsername == "" {
				s.RootUsername = v
			}
		case "root_user":
			s.RootUsername = v
		case "name":
			s.Name = v
		default:
			return s, fmt.Errorf("routes: server %s: unknown key %s (want id, host, port, user, root_user, name)",
				inputfile.Excerpt(spec, 0), inputfile.Excerpt(k, 0))
		}
	}
	if err := check(&s); err != nil {
		return s, fmt.Errorf("routes: server %s: %w", inputfile.Excerpt(spec, 0), err)
	}
	return s, nil
}

// check requires what routing needs: an ID and a host, a port in range.
func check(s *legacy.Server) error {
	switch {
	case s.ID == "":
		return errors.New("no id")
	case s.Host == "":
		return errors.New("no host")
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("port %d out of range 0..65535", s.Port)
	}
	return nil
}
