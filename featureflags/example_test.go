package featureflags_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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
		fmt.Println(id, d.Value, d.Reason, d.Variant, flags.RouteToNewPool(ctx, ec))
	}
	// Output:
	// srv-1 true TARGETING_MATCH on true
	// srv-3 false TARGETING_MATCH off false
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
