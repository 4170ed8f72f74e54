package app

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/v2"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// decode unmarshals k into a Config and returns the problems: values of the
// wrong type, and keys no field takes.
func decode(k *koanf.Koanf) (Config, *ConfigError) {
	var (
		c    Config
		cerr ConfigError
	)
	err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: decoderConfig(&c)})
	for _, e := range leaves(err) {
		var de *mapstructure.DecodeError
		if errors.As(e, &de) {
			key := mapKey(de.Name())
			cerr.add(key, "", decodeMsg(key, de.Unwrap()))
		} else {
			cerr.add("", "", e.Error())
		}
	}
	for _, key := range unknownKeys(k.Keys()) {
		cerr.add(key, "", unknownKeyMsg(key))
	}
	return c, &cerr
}

// unknownKeys returns the loaded keys that no Config field takes. A key
// below a known one (a section where a value belongs) is a decoding
// problem of the known key instead.
func unknownKeys(loaded []string) []string {
	known := knownKeys()
	var out []string
	for _, key := range loaded {
		if !slices.ContainsFunc(known, func(kn string) bool { return related(key, kn) }) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// leaves flattens errors.Join trees.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	if w := errors.Unwrap(err); w != nil {
		if _, ok := w.(interface{ Unwrap() []error }); ok {
			return leaves(w)
		}
	}
	return []error{err}
}

// mapKey turns mapstructure's names of map entries ("targets[db].port")
// into config keys ("targets.db.port").
func mapKey(name string) string {
	return strings.NewReplacer("[", ".", "]", "").Replace(name)
}

// decodeMsg says what the value of key, of the wrong type, should have
// been.
func decodeMsg(key string, err error) string {
	var (
		unit  *durationUnitError
		parse *mapstructure.ParseError
		conv  *mapstructure.UnconvertibleTypeError
	)
	switch {
	case errors.As(err, &unit):
		return unit.Error()
	case errors.As(err, &parse):
		return "want " + describe(parse.Expected.Type())
	case errors.As(err, &conv):
		return "want " + describe(conv.Expected.Type())
	}
	// mapstructure's other messages name Go kinds ("expected a map or
	// struct, got "int""): say what the key takes instead.
	if t, ok := keyType(key); ok {
		return "want " + describe(t)
	}
	return err.Error()
}

// keyType returns the type of the Config field that key ("pool.warmup_keys",
// "targets.db.port") decodes into.
func keyType(key string) (reflect.Type, bool) {
	t := reflect.TypeFor[Config]()
	segs := strings.Split(key, ".")
	for i := 0; i < len(segs); i++ {
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem() // segs[i] is the entry's name
		case reflect.Struct:
			f, ok := fieldByTag(t, segs[i])
			if !ok {
				return nil, false
			}
			t = f.Type
		default:
			return nil, false
		}
	}
	return t, true
}

// fieldByTag finds t's field whose koanf tag is name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("koanf") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// describe names a field type for a config file's author.
func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration such as "30s"`
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Map || t.Kind() == reflect.Struct:
		return "a section (key: value lines)"
	}
	return t.String()
}

// unknownKeyMsg names the closest known key of the same section, if one is
// close: a typo (edit distance up to 2) or an abbreviation (sharing at
// least half of the name as a prefix).
func unknownKeyMsg(key string) string {
	if _, last := splitLast(key); len(last) > maxKeySegment {
		// No key is that long, and the edit distance of a 1 MB name to
		// each candidate would take seconds.
		return "unknown key"
	}
	best, bestPrefix, bestD := "", 0, 0
	for _, known := range knownKeys() {
		known = matchWildcards(key, known)
		kp, kl := splitLast(known)
		up, ul := splitLast(key)
		if kp != up {
			continue
		}
		prefix, d := commonPrefix(ul, kl), levenshtein.ComputeDistance(ul, kl)
		if d > 2 && 2*prefix < len(ul) {
			continue
		}
		if best == "" || prefix > bestPrefix || prefix == bestPrefix && d < bestD {
			best, bestPrefix, bestD = known, prefix, d
		}
	}
	if best != "" {
		return "unknown key (did you mean " + best + "?)"
	}
	return "unknown key"
}

// related reports whether key and known are equal or one lies below the
// other, a "*" in known matching any one segment.
func related(key, known string) bool {
	ks, ws := strings.Split(key, "."), strings.Split(known, ".")
	for i := range min(len(ks), len(ws)) {
		if ws[i] != "*" && ws[i] != ks[i] {
			return false
		}
	}
	return true
}

// matchWildcards fills the "*" segments of known from key's segments.
func matchWildcards(key, known string) string {
	if !strings.Contains(known, "*") {
		return known
	}
	ks, ws := strings.Split(key, "."), strings.Split(known, ".")
	if len(ks) != len(ws) {
		return known
	}
	for i, seg := range ws {
		if seg == "*" {
			ws[i] = ks[i]
		}
	}
	return strings.Join(ws, ".")
}

func splitLast(key string) (parent, last string) {
	i := strings.LastIndexByte(key, '.')
	return key[:max(i, 0)], key[i+1:]
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// knownKeys lists the keys of Config's sections ("pool.max_connections"),
// with "*" for a map entry ("targets.*.host").
func knownKeys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			key := joinKey(prefix, f.Tag.Get("koanf"))
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, key)
			case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), key+".*")
			default:
				out = append(out, key)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// addValidation appends the validation problems of keys that decoded
// (a key that did not decode has its zero value, which says nothing).
func (e *ConfigError) addValidation(ps []Problem) {
	bad := map[string]bool{}
	for _, p := range e.Problems {
		bad[p.Key] = true
	}
	for _, p := range ps {
		if !bad[p.Key] {
			e.Problems = append(e.Problems, p)
		}
	}
}

// locate fills each problem's source and, where the problem has none yet,
// its value as loaded (secrets redacted).
func (e *ConfigError) locate(k *koanf.Koanf, src sources) {
	for i := range e.Problems {
		p := &e.Problems[i]
		p.Source = src.lookup(p.Key)
		if p.Value == "" && k.Exists(p.Key) {
			p.Value = formatValue(k.Get(p.Key))
		}
		if isSecret(p.Key) && p.Value != "" {
			p.Value = Redacted
		}
		p.Key = cutKey(p.Key)
	}
	slices.SortStableFunc(e.Problems, func(a, b Problem) int { return a.Source.compare(b.Source) })
}

// maxKeySegment is the longest segment of a config key a problem repeats
// whole: a longer one (an unknown key, a target's name) was written by
// mistake or by a hostile file and is cut (cutKey).
const maxKeySegment = 64

// cutKey returns key with every segment longer than maxKeySegment bytes
// cut to a short quoted prefix and its length (inputfile.Excerpt), so that
// a 1 MB key is never echoed whole: pool."kkkk…"… (1048576 bytes).
func cutKey(key string) string {
	if len(key) <= maxKeySegment {
		return key
	}
	segs := strings.Split(key, ".")
	for i, s := range segs {
		if len(s) > maxKeySegment {
			segs[i] = inputfile.Excerpt(s, 0)
		}
	}
	return strings.Join(segs, ".")
}

// isSecret reports whether key holds a secret (a target's password, the
// etcd password).
func isSecret(key string) bool {
	return strings.HasPrefix(key, "targets.") && strings.HasSuffix(key, ".password") || key == "flags.etcd.password"
}

// formatValue renders a loaded value: text quoted and cut, durations and
// numbers as Go prints them, sections and lists by kind.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return inputfile.Excerpt(x, 0)
	case map[string]any:
		return "(a section)"
	case []any, []string:
		return inputfile.Excerpt(fmt.Sprint(x), 0)
	}
	return fmt.Sprint(v)
}

// decoderConfig is koanf's default decoding (unknown keys are found by
// unknownKeys, which sees them all even when a value fails to decode).
// Passing a DecoderConfig replaces koanf's hooks, so the duration,
// comma-separated slice and TextUnmarshaler hooks are listed here.
func decoderConfig(out *Config) *mapstructure.DecoderConfig {
	return &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationNeedsUnit,
			parseDuration,
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
		),
		WeaklyTypedInput: true,
		Result:           out,
		TagName:          "koanf",
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// durationUnitError is a bare number, or text that is no duration, given
// for a duration.
type durationUnitError struct {
	v      any
	isText bool
}

func (e *durationUnitError) Error() string {
	if e.isText {
		return `want a duration such as "30s"`
	}
	return fmt.Sprintf("has no unit: write a duration such as \"%vs\" or \"%vms\"", e.v, e.v)
}

// parseDuration decodes text into a duration field ("1m30s").
func parseDuration(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from.Kind() != reflect.String {
		return data, nil
	}
	d, err := time.ParseDuration(reflect.ValueOf(data).String())
	if err != nil {
		return nil, &durationUnitError{v: data, isText: true}
	}
	return d, nil
}

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
			return nil, &durationUnitError{v: data}
		}
	}
	return data, nil
}
