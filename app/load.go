package app

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// EnvPrefix is the prefix of configuration environment variables:
// SSHPOOL_POOL__MAX_CONNECTIONS=50 sets pool.max_connections.
const EnvPrefix = "SSHPOOL_"

// LoadOptions says where LoadWith reads from.
type LoadOptions struct {
	// Path is a YAML (.yaml, .yml) or JSON (.json) file; empty means none.
	Path string
	// Env is the environment as os.Environ returns it; nil means none.
	Env []string
	// Preset names the pool defaults (see Defaults).
	Preset string
	// Warn receives warnings that do not stop the load (an SSHPOOL_
	// variable that sets nothing); nil drops them.
	Warn func(msg string)
	// Adjust, when set, changes the decoded config before it is validated,
	// on every load (a ConfigStore's reloads too): command-line overrides
	// such as an admin address or an extra target.
	Adjust func(*Config)
	// MaxBytes caps the size of the file at Path; zero means
	// DefaultConfigMaxBytes. The file is read bounded: it must be a
	// regular file once links are resolved (a FIFO or a device such as
	// /dev/zero is refused before anything is read), a larger file is
	// refused without being read whole, and the read is abandoned after
	// inputfile's default deadline (5 s).
	MaxBytes int64
}

// DefaultConfigMaxBytes is the size cap of a configuration file when
// LoadOptions.MaxBytes is zero: 1 MiB, far above any real configuration.
const DefaultConfigMaxBytes = 1 << 20

// LoadConfig loads the configuration: defaults, then the file at path (if
// not empty), then the SSHPOOL_ variables of env. See LoadWith.
func LoadConfig(path string, env []string) (Config, error) {
	return LoadWith(LoadOptions{Path: path, Env: env})
}

// LoadWith loads the configuration on a fresh koanf instance: defaults
// (with o.Preset), then o.Path, then the SSHPOOL_ variables of o.Env (the
// prefix stripped, lower-cased, "__" separating levels). Durations are
// strings such as "30s", and the result is validated.
//
// Every problem is reported, as one *ConfigError: each names the config
// key, its value (secrets redacted) and where it came from (file:line or
// the environment variable). Unknown keys are errors, in the file and in
// the environment alike: SSHPOOL_POOL__MAX_CONECTIONS is refused, naming
// the variable. A variable without "__" (SSHPOOL_PORT, as Kubernetes
// service links define for a Service named sshpool) cannot address any key:
// it is ignored with a warning through o.Warn. The kill-switch variable
// (flags.kill_switch_env, default SSHPOOL_KILL_SWITCH) belongs to the flag
// provider and is skipped here.
func LoadWith(o LoadOptions) (Config, error) {
	def, err := Defaults(o.Preset)
	if err != nil {
		return Config{}, err
	}
	k := koanf.New(".")
	if err := k.Load(structs.Provider(def, "koanf"), nil); err != nil {
		return Config{}, fmt.Errorf("config: defaults: %w", err)
	}
	src := sources{}
	if o.Path != "" {
		if err := loadFile(k, o.Path, o.MaxBytes, src); err != nil {
			return Config{}, err
		}
	}
	ignored := loadEnv(k, o.Env, killSwitchEnv(k, o.Env), src)
	c, cerr := decode(k)
	if o.Adjust != nil {
		o.Adjust(&c)
	}
	cerr.addValidation(c.problems())
	cerr.locate(k, src)
	if err := cerr.orNil(); err != nil {
		return Config{}, err
	}
	warnIgnored(o.Warn, ignored, c.Flags.KillSwitchEnv)
	return c, nil
}

// loadFile reads path (bounded in size and time: at most maxBytes, zero
// meaning DefaultConfigMaxBytes), records the line of every key in src and
// merges the document into k.
func loadFile(k *koanf.Koanf, path string, maxBytes int64, src sources) error {
	if maxBytes <= 0 {
		maxBytes = DefaultConfigMaxBytes
	}
	var p koanf.Parser
	isJSON := false
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		p = yaml.Parser()
	case ".json":
		p, isJSON = json.Parser(), true
	default:
		return fmt.Errorf("config: %s: unknown format, want .yaml, .yml or .json", path)
	}
	data, err := inputfile.Read(path, inputfile.Limits{MaxBytes: maxBytes})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := k.Load(rawBytes(data), p); err != nil {
		return documentError(path, data, isJSON, err)
	}
	src.addFile(path, data)
	return nil
}

// rawBytes is a koanf.Provider of a document already read.
type rawBytes []byte

func (b rawBytes) ReadBytes() ([]byte, error) { return b, nil }
func (b rawBytes) Read() (map[string]any, error) {
	return nil, errors.New("config: a document needs a parser")
}

// envKey maps SSHPOOL_A__B_C to a.b_c; ok is false for a variable that
// cannot address a key (no "__": every key is inside a section).
func envKey(name string) (key string, ok bool) {
	rest, found := strings.CutPrefix(name, EnvPrefix)
	if !found || !strings.Contains(rest, "__") {
		return "", false
	}
	return strings.ReplaceAll(strings.ToLower(rest), "__", "."), true
}

// killSwitchEnv returns the kill-switch variable configured in environ
// (SSHPOOL_FLAGS__KILL_SWITCH_ENV, the last one winning as in the
// environment) or, failing that, in k (defaults and file).
func killSwitchEnv(k *koanf.Koanf, environ []string) string {
	const name = EnvPrefix + "FLAGS__KILL_SWITCH_ENV="
	for i := len(environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(environ[i], name); ok {
			return v
		}
	}
	return k.String("flags.kill_switch_env")
}

// loadEnv merges the SSHPOOL_ variables of environ that address keys into
// k, records them in src, and returns the names of those that cannot. The
// kill-switch variable (kill, as configured) belongs to the flag provider
// and is skipped, whatever its name: flipping the kill switch must never
// stop the service from starting.
func loadEnv(k *koanf.Koanf, environ []string, kill string, src sources) (ignored []string) {
	vars := map[string]any{}
	for _, kv := range environ {
		name, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || name == kill {
			continue
		}
		key, ok := envKey(name)
		if !ok {
			ignored = append(ignored, name)
			continue
		}
		vars[key] = v
		src[key] = Source{Env: name}
	}
	// A flat map of a.b keys; Load cannot fail on it.
	k.Load(flatMap(vars), nil)
	return ignored
}

// flatMap is a koanf.Provider of "a.b" keys.
type flatMap map[string]any

func (m flatMap) ReadBytes() ([]byte, error)    { return nil, errors.New("config: flatMap has no bytes") }
func (m flatMap) Read() (map[string]any, error) { return maps.Unflatten(m, "."), nil }

// warnIgnored reports the SSHPOOL_ variables that set nothing, except the
// kill-switch variable, which the flag provider reads.
func warnIgnored(warn func(string), names []string, killSwitchEnv string) {
	if warn == nil {
		return
	}
	for _, n := range names {
		if n == killSwitchEnv || (killSwitchEnv == "" && n == DefaultKillSwitchEnv) {
			continue
		}
		warn(fmt.Sprintf("config: environment variable %s ignored: it sets no config key (a key is SSHPOOL_SECTION__KEY, e.g. SSHPOOL_POOL__MAX_CONNECTIONS)", n))
	}
}
