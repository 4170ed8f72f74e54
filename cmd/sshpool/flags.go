package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/spf13/cobra"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/routes"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/legacy"
)

// newFlagsCmd groups the flag-file commands; each sub-command is built by
// its own newFlagsXxxCmd.
func newFlagsCmd() *cobra.Command {
	c := group("flags", "Lint a flag file, show where it routes servers, diff two",
		newFlagsValidateCmd(), newFlagsEvalCmd(), newFlagsDiffCmd())
	c.Long = `Lint a flag file, show where it routes servers, diff two.

Flag files are in flagd's flag-definition format (JSON or YAML). Servers come
from a config file (--servers: its targets, as the service's config is
written; each target key is the server's ID) or from repeated --server
id=ID,host=HOST[,port=P][,user=U][,root_user=R][,name=N].`
	return c
}

func newFlagsValidateCmd() *cobra.Command {
	var (
		strict, asJSON bool
		maxBytes       int64
	)
	c := &cobra.Command{
		Use:   "validate FILE",
		Short: "Lint a flag file: every problem with its line and column and what flagd does with it",
		Long: `Lint a flag file: every problem at once, each with its line and column,
the flag, and what flagd does with it at evaluation time.

Structural problems (not JSON/YAML, no flags object, a flag without state or
variants, mixed variant types, a defaultVariant that is not a variant) are
errors: a provider refuses the file and keeps its previous flags; exit 1.
Mistakes inside rules, and advice (a missing defaultVariant, a split that
does not add up to 100, kill-switch or use-new-pool missing, use-new-pool
defaulting to the new pool), are warnings: exit 0, or 1 with --strict.

With --json the result is the report: origin, flags (the keys that load,
null when refused) and problems (kind structural|rule|advice, flag, pointer,
line, column, message, effect).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return flagsValidate(cmd.Context(), a[0], maxBytes, strict, asJSON, cmd.OutOrStdout())
		},
	}
	c.Flags().BoolVar(&strict, "strict", false, "exit 1 on warnings too (mistakes in rules, advice)")
	c.Flags().Int64Var(&maxBytes, "max-bytes", featureflags.DefaultMaxDocumentBytes, "largest flag file accepted, in bytes")
	addJSONFlag(c, &asJSON)
	return c
}

// flagsValidate lints the file at path: exit 1 when it would be refused, or
// with strict when it has any warning.
func flagsValidate(ctx context.Context, path string, maxBytes int64, strict, asJSON bool, stdout io.Writer) error {
	data, err := inputfile.ReadContext(ctx, path, inputfile.Limits{MaxBytes: maxBytes, Timeout: featureflags.DefaultReadTimeout})
	if err != nil {
		return fmt.Errorf("featureflags: flag file: %w", err)
	}
	r := featureflags.Lint(path, data)
	if asJSON {
		err = writeJSON(stdout, r)
	} else {
		err = r.Write(stdout)
	}
	if err != nil {
		return err
	}
	if r.Refused() || strict && len(r.Problems) > 0 {
		return exitCode(exitError)
	}
	return nil
}

// targetFlags are the flags that name the servers to route.
type targetFlags struct {
	serversFile string
	specs       []string
	asRoot      bool
	asJSON      bool
}

func (t *targetFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&t.serversFile, "servers", "", "config file (YAML or JSON) whose targets are the servers")
	c.Flags().StringArrayVar(&t.specs, "server", nil, "a server: id=ID,host=HOST[,port=P][,user=U][,root_user=R][,name=N] (repeatable)")
	c.Flags().BoolVar(&t.asRoot, "root", false, "route the servers' root connections")
	addJSONFlag(c, &t.asJSON)
}

// targets returns the servers of --servers and --server, in that order.
func (t *targetFlags) targets() ([]routes.Target, error) {
	var servers []legacy.Server
	if t.serversFile != "" {
		fromFile, err := routes.LoadServers(t.serversFile)
		if err != nil {
			return nil, err
		}
		servers = fromFile
	}
	for _, spec := range t.specs {
		s, err := routes.ParseServer(spec)
		if err != nil {
			return nil, usagef("--server: %v", err)
		}
		servers = append(servers, s)
	}
	if len(servers) == 0 {
		return nil, usagef("no servers: give --servers CONFIG or --server id=ID,host=HOST")
	}
	out := make([]routes.Target, len(servers))
	for i, s := range servers {
		out[i] = routes.Target{Server: s, AsRoot: t.asRoot}
	}
	return out, nil
}

type evalOptions struct {
	server        legacy.Server
	killSwitchEnv string
}

func newFlagsEvalCmd() *cobra.Command {
	var (
		o  evalOptions
		tf targetFlags
	)
	c := &cobra.Command{
		Use:   "eval FILE (--servers CONFIG | --server SPEC... | --server-id ID)",
		Short: "Show which pool the router picks for each server, and why",
		Long: `Show which pool the router picks for each server, and why: a table of
server, host, user, route (new or legacy), reason (flag-on, flag-off,
kill-switch, or a fallback: flag-not-found, provider-not-ready, eval-error)
and variant, then a summary (how many servers go to the new pool).

With --server-id, the details of both routing flags for that one server.
With --json the result is {servers: [...], summary: {servers, new, legacy,
fallbacks}}.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return flagsEval(cmd.Context(), a[0], o, tf, cmd.OutOrStdout())
		},
	}
	tf.register(c)
	fs := c.Flags()
	fs.StringVar(&o.server.ID, "server-id", "", "one server's ID (the targeting key): show its flag details")
	fs.StringVar(&o.server.Host, "host", "", "with --server-id: the server's host")
	fs.IntVar(&o.server.Port, "port", 22, "with --server-id: the server's port")
	fs.StringVar(&o.server.AppUsername, "user", "", "with --server-id: the user (app or, with --root, root)")
	fs.StringVar(&o.server.Name, "name", "", "with --server-id: the server's name")
	fs.StringVar(&o.killSwitchEnv, "kill-switch-env", featureflags.DefaultKillSwitchEnv, "variable overriding kill-switch (\"\" for none)")
	return c
}

// flagsEval shows the routing of servers by the flag file at path.
func flagsEval(ctx context.Context, path string, o evalOptions, tf targetFlags, stdout io.Writer) error {
	var targets []routes.Target
	if o.server.ID == "" {
		var err error
		if targets, err = tf.targets(); err != nil {
			return err
		}
	}
	flags, err := startFlags(ctx, path, o.killSwitchEnv)
	if err != nil {
		return err
	}
	defer flags.Shutdown(context.Background())
	if o.server.ID != "" {
		o.server.RootUsername = o.server.AppUsername
		return evalOne(ctx, flags, routes.Target{Server: o.server, AsRoot: tf.asRoot}, stdout)
	}
	t := routes.Evaluate(ctx, flags.Client(), targets)
	if tf.asJSON {
		return writeJSON(stdout, t)
	}
	return t.Write(stdout)
}

// loadedFlags is a flag file served by an isolated OpenFeature API.
type loadedFlags struct {
	*featureflags.Flags
	provider *featureflags.Provider
}

// startFlags starts an isolated OpenFeature API on the flag file at path
// (read bounded), with the kill-switch variable unless killSwitchEnv is "".
func startFlags(ctx context.Context, path, killSwitchEnv string) (loadedFlags, error) {
	var popts []featureflags.FileProviderOption
	if killSwitchEnv != "" {
		popts = append(popts, featureflags.WithKillSwitchEnv(killSwitchEnv))
	}
	p, err := featureflags.NewFileProvider(path, popts...)
	if err != nil {
		return loadedFlags{}, err
	}
	f := featureflags.NewFlags(p)
	if err := f.Start(ctx); err != nil {
		_ = f.Shutdown(context.Background())
		return loadedFlags{}, err
	}
	return loadedFlags{f, p}, nil
}

// evalOne prints the two routing flags' details and the decision for one
// server.
func evalOne(ctx context.Context, f loadedFlags, t routes.Target, stdout io.Writer) error {
	ec := legacy.EvaluationContext(&t.Server, t.AsRoot)
	for _, k := range []string{featureflags.FlagKillSwitch, featureflags.FlagUseNewPool} {
		d, err := f.Client().BooleanValueDetails(ctx, k, false, ec)
		printDetails(stdout, k, d, err)
	}
	row := routes.Evaluate(ctx, f.Client(), []routes.Target{t}).Rows[0]
	fmt.Fprintf(stdout, "decision: %s (reason %s)\n", row.Route, row.Reason)
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

func newFlagsDiffCmd() *cobra.Command {
	var tf targetFlags
	c := &cobra.Command{
		Use:   "diff OLD NEW (--servers CONFIG | --server SPEC...)",
		Short: "Show which servers change pool between two flag files, before deploying NEW",
		Long: `Show which servers change pool between two flag files, before deploying
NEW: each server whose route or reason changes, then a summary (how many move
legacy→new and new→legacy, servers on the new pool before and after, and
evaluations that fail with NEW). A NEW that a provider would refuse is
reported with its structural problems and exits 1: the fleet would keep OLD.

With --json the result is {changes: [{old, new}], summary: {servers, changed,
to_new, to_legacy, new_before, new_after, failed_after}}.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return flagsDiff(cmd.Context(), a[0], a[1], tf, cmd.OutOrStdout())
		},
	}
	tf.register(c)
	return c
}

// flagsDiff compares the routing of the flag files oldPath and newPath.
// The kill-switch variable is not applied: it would hide the documents'
// difference.
func flagsDiff(ctx context.Context, oldPath, newPath string, tf targetFlags, stdout io.Writer) error {
	targets, err := tf.targets()
	if err != nil {
		return err
	}
	before, err := startFlags(ctx, oldPath, "")
	if err != nil {
		return fmt.Errorf("old flags: %w", err)
	}
	defer before.Shutdown(context.Background())
	after, err := startFlags(ctx, newPath, "")
	var de *featureflags.DocumentError
	if errors.As(err, &de) {
		fmt.Fprintf(stdout, "%s would be refused; the previous flags would stay:\n", newPath)
		for _, p := range de.Problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		return exitCode(exitError)
	}
	if err != nil {
		return fmt.Errorf("new flags: %w", err)
	}
	defer after.Shutdown(context.Background())
	d := routes.Compare(ctx, before.Client(), after.Client(), targets)
	if tf.asJSON {
		return writeJSON(stdout, d)
	}
	if bad := after.provider.Stats().FlagsWithRuleErrors; len(bad) > 0 {
		fmt.Fprintf(stdout, "warning: in %s, the rules of %s have errors (they evaluate to their defaults): see sshpool flags validate %s\n",
			newPath, strings.Join(bad, ", "), newPath)
	}
	return d.Write(stdout)
}
