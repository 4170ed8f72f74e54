package featureflags_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sshpool/sshpool/featureflags"
)

func ExampleNewFileProvider() {
	dir, err := os.MkdirTemp("", "flags")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "flags.yaml")
	err = os.WriteFile(path, []byte(`flags:
  kill-switch:
    state: ENABLED
    variants: {on: true, off: false}
    defaultVariant: off
  use-new-pool:
    state: ENABLED
    variants: {on: true, off: false}
    defaultVariant: off
    targeting:
      if:
        - in: [{var: targetingKey}, [srv-1, srv-2]]
        - "on"
        - fractional: [[on, 0], [off, 100]]
`), 0o644)
	if err != nil {
		panic(err)
	}

	provider, err := featureflags.NewFileProvider(path)
	if err != nil {
		panic(err)
	}
	flags := featureflags.NewFlags(provider, featureflags.NewMetricsHook())
	ctx := context.Background()
	if err := flags.Start(ctx); err != nil {
		panic(err)
	}
	defer flags.Shutdown(ctx)

	for _, id := range []string{"srv-1", "srv-3"} {
		ec := featureflags.ServerContext(id, "web.example.com", 22, "deploy", false, id)
		d, _ := flags.Client().BooleanValueDetails(ctx, featureflags.FlagUseNewPool, false, ec)
		fmt.Println(id, d.Value, d.Reason, d.Variant)
	}
	// Output:
	// srv-1 true TARGETING_MATCH on
	// srv-3 false TARGETING_MATCH off
}

func ExampleValidateFlagFile() {
	_, err := featureflags.ValidateFlagFile("flags.json", []byte(`{"flags": {"use-new-pool": {
		"state": "ENABLED", "variants": {"on": true, "off": "false"}, "defaultVariant": "off"}}}`))
	fmt.Println(err)
	// Output:
	// featureflags: invalid flag file: flags.json: flag "use-new-pool": variants mix string and boolean values
}

func ExampleLint() {
	r := featureflags.Lint("flags.json", []byte(`{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {
    "state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"fractional": [["on", 10], ["of", 90]]}
  }
}}`))
	_ = r.Write(os.Stdout)
	// Output:
	// flags.json:5:47: warning: flag "use-new-pool": the rule returns "of", which is not a variant (variants: "off", "on"); flagd: the flag resolves with GENERAL and the caller's default
	// flags.json: loads 2 flags, 1 warnings
}

// memorySource is a Source holding a document in memory: the shape of a
// store-backed source (an etcd key) that pushes each new document to the
// provider's Sink.
type memorySource struct {
	mu   sync.Mutex // guards doc and sink
	doc  featureflags.Document
	sink featureflags.Sink
}

func (s *memorySource) Name() string { return "memory" }

func (s *memorySource) Read(context.Context) (featureflags.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doc, nil
}

func (s *memorySource) Start(_ context.Context, sink featureflags.Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink = sink
	return nil
}

func (s *memorySource) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink = nil
	return nil
}

// publish replaces the document and hands it to the provider, which keeps
// its flags if the document is refused.
func (s *memorySource) publish(data, version string) error {
	s.mu.Lock()
	s.doc = featureflags.Document{Data: []byte(data), Format: featureflags.FormatJSON, Origin: "memory", Version: version}
	sink, doc := s.sink, s.doc
	s.mu.Unlock()
	return sink.Update(doc)
}

func ExampleNewProvider() {
	const off = `{"flags": {"kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}`
	src := &memorySource{doc: featureflags.Document{Data: []byte(off), Origin: "memory", Version: "1"}}
	provider, err := featureflags.NewProvider(src)
	if err != nil {
		panic(err)
	}
	flags := featureflags.NewFlags(provider)
	ctx := context.Background()
	if err := flags.Start(ctx); err != nil { // starts the source
		panic(err)
	}
	defer flags.Shutdown(ctx) // stops it

	fmt.Println(src.publish(strings.Replace(off, `"defaultVariant": "off"`, `"defaultVariant": "on"`, 1), "2"))
	fmt.Println(src.publish(`{"flags": {"kill-switch": {"state": "ON"}}}`, "3") != nil)
	d := provider.Document()
	fmt.Println(provider.BooleanEvaluation(ctx, featureflags.FlagKillSwitch, false, nil).Value, d.Version)
	// Output:
	// <nil>
	// true
	// true 2
}
