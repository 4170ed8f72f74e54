package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
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
}

// LoadConfig loads the configuration: defaults, then the file at path (if
// not empty), then the SSHPOOL_ variables of env. See LoadWith.
func LoadConfig(path string, env []string) (Config, error) {
	return LoadWith(LoadOptions{Path: path, Env: env})
}

// LoadWith loads the configuration on a fresh koanf instance: defaults
// (with o.Preset), then o.Path, then the SSHPOOL_ variables of o.Env (the
// prefix stripped, lower-cased, "__" separating levels). Unknown keys are
// errors, durations are strings such as "30s", and the result is validated;
// every error names the offending key or field, and the file or the
// environment variable it came from: any SSHPOOL_ variable that sets no
// configuration key (a typo, a stray variable) stops the load with an
// error naming it. The kill-switch variables (SSHPOOL_KILL_SWITCH, and
// the one flags.kill_switch_env names) belong to the flag provider and
// are skipped here.
func LoadWith(o LoadOptions) (Config, error) {
	def, err := Defaults(o.Preset)
	if err != nil {
		return Config{}, err
	}
	k := koanf.New(".")
	if err := k.Load(structs.Provider(def, "koanf"), nil); err != nil {
		return Config{}, fmt.Errorf("config: defaults: %w", err)
	}
	if o.Path != "" {
		if err := loadFile(k, o.Path); err != nil {
			return Config{}, err
		}
	}
	kill := killSwitchEnv(k, o.Env)
	if err := checkEnv(o.Env, kill); err != nil {
		return Config{}, err
	}
	if err := k.Load(env.Provider(".", envOpt(o.Env, kill)), nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}
	var c Config
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: decoderConfig(&c)}); err != nil {
		if o.Path != "" { // the variables decode on their own: the file is at fault
			return Config{}, fmt.Errorf("config: %s: %w", o.Path, err)
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func loadFile(k *koanf.Koanf, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var p koanf.Parser
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		p = yaml.Parser()
	case ".json":
		p = json.Parser()
	default:
		return fmt.Errorf("config: %s: unknown format, want .yaml, .yml or .json", path)
	}
	if err := k.Load(file.Provider(path), p); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// killSwitchEnv returns the kill-switch variable configured in environ
// (SSHPOOL_FLAGS__KILL_SWITCH_ENV) or, failing that, in k (defaults and
// file).
func killSwitchEnv(k *koanf.Koanf, environ []string) string {
	const name = EnvPrefix + "FLAGS__KILL_SWITCH_ENV="
	for i := len(environ) - 1; i >= 0; i-- { // the last one wins, as in the environment
		if v, ok := strings.CutPrefix(environ[i], name); ok {
			return v
		}
	}
	return k.String("flags.kill_switch_env")
}

// envOpt maps SSHPOOL_A__B_C=v to a.b_c. The kill-switch variables, the
// default one and kill (the configured one), are dropped: the flag
// provider reads them.
func envOpt(environ []string, kill string) env.Opt {
	return env.Opt{
		Prefix: EnvPrefix,
		TransformFunc: func(key, v string) (string, any) {
			if key == DefaultKillSwitchEnv || key == kill {
				return "", nil
			}
			key = strings.ToLower(strings.TrimPrefix(key, EnvPrefix))
			return strings.ReplaceAll(key, "__", "."), v
		},
		EnvironFunc: func() []string { return environ },
	}
}

// checkEnv decodes each SSHPOOL_ variable of environ on its own, so that
// a variable that sets an unknown key, or a value its key cannot take, is
// an error naming the variable (a stray SSHPOOL_ variable stops start-up:
// configuration is strict wherever it comes from).
func checkEnv(environ []string, kill string) error {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		k := koanf.New(".")
		if err := k.Load(env.Provider(".", envOpt([]string{kv}, kill)), nil); err != nil {
			return fmt.Errorf("config: environment variable %s: %w", name, err)
		}
		if len(k.Keys()) == 0 {
			continue // the kill switch, or no key after the prefix
		}
		var c Config
		var md mapstructure.Metadata
		dc := decoderConfig(&c)
		dc.ErrorUnused, dc.Metadata = false, &md
		if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: dc}); err != nil {
			var de *mapstructure.DecodeError // one variable, one error: drop the list's header
			if errors.As(err, &de) {
				err = de
			}
			return fmt.Errorf("config: environment variable %s: %w", name, err)
		}
		if len(md.Unused) > 0 {
			return fmt.Errorf("config: environment variable %s: unknown key %q "+
				"(\"__\" separates levels: SSHPOOL_POOL__MAX_CONNECTIONS sets pool.max_connections)", name, md.Unused[0])
		}
	}
	return nil
}

// decoderConfig is koanf's default decoding plus ErrorUnused (strict
// keys). Passing a DecoderConfig replaces koanf's hooks, so the duration,
// comma-separated slice and TextUnmarshaler hooks are listed here.
func decoderConfig(out *Config) *mapstructure.DecoderConfig {
	return &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationNeedsUnit,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
		),
		Metadata:         nil,
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		Result:           out,
		TagName:          "koanf",
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// durationNeedsUnit refuses a bare non-zero number for a duration field:
// YAML's "max_lifetime: 30" would otherwise decode as 30 nanoseconds. A
// string without a unit ("30") is refused by time.ParseDuration already.
func durationNeedsUnit(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if !reflect.ValueOf(data).IsZero() {
			return nil, fmt.Errorf("%v has no unit: write a duration such as \"%vs\" or \"%vms\"", data, data, data)
		}
	}
	return data, nil
}
