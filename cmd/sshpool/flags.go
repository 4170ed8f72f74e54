package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/spf13/cobra"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
)

// newFlagsCmd groups the flag-file commands; each sub-command is built by
// its own newFlagsXxxCmd.
func newFlagsCmd() *cobra.Command {
	return group("flags", "Validate a flag file or evaluate the routing flags",
		newFlagsValidateCmd(), newFlagsEvalCmd())
}

func newFlagsValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a flag file (flagd format) and warn about missing routing flags",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return flagsValidate(a, cmd.OutOrStdout())
		},
	}
}

func flagsValidate(args []string, stdout io.Writer) error {
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	keys, err := featureflags.ValidateFlagFile(args[0], data)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok, %d flags: %s\n", args[0], len(keys), strings.Join(keys, ", "))
	for _, k := range []string{featureflags.FlagKillSwitch, featureflags.FlagUseNewPool} {
		if !contains(keys, k) {
			fmt.Fprintf(stdout, "warning: %q is not defined: the router counts every call as a fallback and routes it to legacy\n", k)
		}
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type evalOptions struct {
	server        legacy.Server
	asRoot        bool
	killSwitchEnv string
}

func newFlagsEvalCmd() *cobra.Command {
	var o evalOptions
	c := &cobra.Command{
		Use:   "eval FILE --server-id ID",
		Short: "Show which pool the router would pick for one server",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if o.server.ID == "" {
				return usagef("--server-id is required")
			}
			o.server.RootUsername = o.server.AppUsername
			return evalFile(cmd.Context(), a[0], o, cmd.OutOrStdout())
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.server.ID, "server-id", "", "server ID (the targeting key)")
	fs.StringVar(&o.server.Host, "host", "", "server host")
	fs.IntVar(&o.server.Port, "port", 22, "server port")
	fs.StringVar(&o.server.AppUsername, "user", "", "user (app or, with --root, root)")
	fs.BoolVar(&o.asRoot, "root", false, "evaluate as a root connection")
	fs.StringVar(&o.server.Name, "name", "", "server name")
	fs.StringVar(&o.killSwitchEnv, "kill-switch-env", featureflags.DefaultKillSwitchEnv, "variable overriding kill-switch (\"\" for none)")
	return c
}

func evalFile(ctx context.Context, path string, o evalOptions, stdout io.Writer) error {
	var popts []featureflags.FileProviderOption
	if o.killSwitchEnv != "" {
		popts = append(popts, featureflags.WithKillSwitchEnv(o.killSwitchEnv))
	}
	p, err := featureflags.NewFileProvider(path, popts...)
	if err != nil {
		return err
	}
	f := featureflags.NewFlags(p)
	defer f.Shutdown(context.Background())
	if err := f.Start(ctx); err != nil {
		return err
	}
	ec := legacy.EvaluationContext(&o.server, o.asRoot)
	for _, k := range []string{featureflags.FlagKillSwitch, featureflags.FlagUseNewPool} {
		d, err := f.Client().BooleanValueDetails(ctx, k, false, ec)
		printDetails(stdout, k, d, err)
	}
	r := legacy.NewRouter(noProvider{}, noProvider{}, f.Client())
	defer r.Close()
	d := r.Decide(ctx, &o.server, o.asRoot)
	fmt.Fprintf(stdout, "decision: %s (reason %s)\n", d.Route, d.Reason)
	return nil
}

func printDetails(w io.Writer, key string, d openfeature.BooleanEvaluationDetails, err error) {
	fmt.Fprintf(w, "%s: %t (reason %s", key, d.Value, d.Reason)
	if d.Variant != "" {
		fmt.Fprintf(w, ", variant %s", d.Variant)
	}
	if err != nil {
		fmt.Fprintf(w, ", error %s", d.ErrorCode)
	}
	fmt.Fprintln(w, ")")
}

// noProvider stands in for both pools: eval only decides, never connects.
type noProvider struct{}

func (noProvider) GetOrCreateConnection(*legacy.Server, bool) (legacy.Connection, error) {
	return nil, errors.New("sshpool flags eval: no connections")
}
