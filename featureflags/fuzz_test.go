package featureflags_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
)

// FuzzParseFlags feeds arbitrary bytes to the flag file parser as JSON and as
// YAML. Parsing and linting never panic and agree on whether the document
// is refused; a document that loads evaluates every flag as every type
// without panicking.
// Seeds: the testdata flag files and testdata/fuzz/FuzzParseFlags.
func FuzzParseFlags(f *testing.F) {
	for _, pattern := range []string{"testdata/*.json", "testdata/*.yaml", "testdata/lint/*.json", "testdata/lint/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, filepath.Ext(name) == ".yaml")
		}
	}
	f.Add([]byte(`{"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "targeting": {"fractional": [["a"]]}}}}`), false)
	f.Add([]byte("flags:\n  f: {state: ENABLED, variants: {a: x}, targeting: {sem_ver: [1.0.0, '=', {var: v}]}}\n"), true)
	ctx := openfeature.FlattenedContext{
		"targetingKey": "srv-1", "host": "web1.prod.example.com", "port": 22, "user": "root",
		"asRoot": true, "version": "1.2.3", "n": int64(7), "when": time.Unix(1, 0),
		"labels": map[string]any{"env": "prod", "tiers": []any{"a", 1}}, "list": []string{"x"},
	}
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		name := "flags.json"
		if yaml {
			name = "flags.yaml"
		}
		_, verr := featureflags.ValidateFlagFile(name, data)
		if r := featureflags.Lint(name, data); r.Refused() != (verr != nil) {
			t.Fatalf("Lint refused=%v, ValidateFlagFile %v", r.Refused(), verr)
		}
		err := featureflags.EvaluateAll(name, data, ctx)
		if (verr == nil) != (err == nil) {
			t.Fatalf("ValidateFlagFile %v, EvaluateAll %v", verr, err)
		}
		if err != nil && !errors.Is(err, featureflags.ErrInvalidFlagFile) {
			t.Fatalf("error %v does not wrap ErrInvalidFlagFile", err)
		}
		if err == nil {
			_ = featureflags.EvaluateAll(name, data, nil) // without any context
		}
	})
}
