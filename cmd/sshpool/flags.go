package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
)

const flagsUsage = "usage: sshpool flags validate FILE | flags eval FILE -server-id ID [-host H -port P -user U -root -name N]"

// runFlags validates a flag file or evaluates the routing flags for one
// server.
func runFlags(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(flagsUsage)
	}
	switch args[0] {
	case "validate":
		return flagsValidate(args[1:], stdout)
	case "eval":
		return flagsEval(ctx, args[1:], stdout, stderr)
	}
	return errors.New(flagsUsage)
}

func flagsValidate(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New(flagsUsage)
	}
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

func flagsEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flags eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o evalOptions
	fs.StringVar(&o.server.ID, "server-id", "", "server ID (the targeting key)")
	fs.StringVar(&o.server.Host, "host", "", "server host")
	fs.IntVar(&o.server.Port, "port", 22, "server port")
	fs.StringVar(&o.server.AppUsername, "user", "", "user (app or, with -root, root)")
	fs.BoolVar(&o.asRoot, "root", false, "evaluate as a root connection")
	fs.StringVar(&o.server.Name, "name", "", "server name")
	fs.StringVar(&o.killSwitchEnv, "kill-switch-env", featureflags.DefaultKillSwitchEnv, "variable overriding kill-switch (\"\" for none)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || o.server.ID == "" {
		return errors.New(flagsUsage)
	}
	o.server.RootUsername = o.server.AppUsername
	return evalFile(ctx, pos[0], o, stdout)
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

func (noProvider) GetOrCreateConnection(*legacy.Server, bool) (*legacy.PooledConnection, error) {
	return nil, errors.New("sshpool flags eval: no connections")
}
