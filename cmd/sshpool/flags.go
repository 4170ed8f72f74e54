package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/routes"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/legacy"
)

const flagsUsage = `usage: sshpool flags validate [-strict] [-json] [-max-bytes N] FILE
       sshpool flags eval FILE (-servers CONFIG | -server SPEC ...) [-root] [-json]
       sshpool flags eval FILE -server-id ID [-host H -port P -user U -root -name N]
       sshpool flags diff OLD NEW (-servers CONFIG | -server SPEC ...) [-root] [-json]
SPEC is id=ID,host=HOST[,port=P][,user=U][,root_user=R][,name=N]; CONFIG is a
config file whose targets are the servers`

// runFlags lints a flag file, shows where it routes servers, or what
// changes between two flag files.
func runFlags(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(flagsUsage)
	}
	switch args[0] {
	case "validate":
		return flagsValidate(ctx, args[1:], stdout, stderr)
	case "eval":
		return flagsEval(ctx, args[1:], stdout, stderr)
	case "diff":
		return flagsDiff(ctx, args[1:], stdout, stderr)
	}
	return errors.New(flagsUsage)
}

// flagsValidate lints FILE: every problem with its position; exit 1 when
// the file would be refused, or with -strict when it has any warning.
func flagsValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flags validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	strict := fs.Bool("strict", false, "exit 1 on warnings too (mistakes in rules, advice)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	maxBytes := fs.Int64("max-bytes", featureflags.DefaultMaxDocumentBytes, "largest flag file accepted, in bytes")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New(flagsUsage)
	}
	data, err := inputfile.ReadContext(ctx, pos[0], inputfile.Limits{MaxBytes: *maxBytes, Timeout: featureflags.DefaultReadTimeout})
	if err != nil {
		return fmt.Errorf("featureflags: flag file: %w", err)
	}
	r := featureflags.Lint(pos[0], data)
	if *asJSON {
		err = writeJSON(stdout, r)
	} else {
		err = r.Write(stdout)
	}
	if err != nil {
		return err
	}
	if r.Refused() || *strict && len(r.Problems) > 0 {
		return exitCode(1)
	}
	return nil
}

// serverList collects repeated -server specifications.
type serverList []legacy.Server

func (l *serverList) String() string { return fmt.Sprint(len(*l), " servers") }

func (l *serverList) Set(spec string) error {
	s, err := routes.ParseServer(spec)
	if err != nil {
		return err
	}
	*l = append(*l, s)
	return nil
}

// targetFlags are the flags that name the servers to route.
type targetFlags struct {
	serversFile string
	servers     serverList
	asRoot      bool
	asJSON      bool
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.serversFile, "servers", "", "config file (YAML or JSON) whose targets are the servers")
	fs.Var(&t.servers, "server", "a server: id=ID,host=HOST[,port=P][,user=U][,root_user=R][,name=N] (repeatable)")
	fs.BoolVar(&t.asRoot, "root", false, "route the servers' root connections")
	fs.BoolVar(&t.asJSON, "json", false, "print JSON")
}

// targets returns the servers of -servers and -server, in that order.
func (t *targetFlags) targets() ([]routes.Target, error) {
	servers := []legacy.Server(t.servers)
	if t.serversFile != "" {
		fromFile, err := routes.LoadServers(t.serversFile)
		if err != nil {
			return nil, err
		}
		servers = append(fromFile, servers...)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("%w: give -servers CONFIG or -server SPEC\n%s", routes.ErrNoServers, flagsUsage)
	}
	out := make([]routes.Target, len(servers))
	for i, s := range servers {
		out[i] = routes.Target{Server: s, AsRoot: t.asRoot}
	}
	return out, nil
}

type evalOptions struct {
	server        legacy.Server
	asRoot        bool
	killSwitchEnv string
}

// flagsEval shows the routing of servers by FILE: a table (or JSON) and a
// summary; with -server-id, the flag details of that one server.
func flagsEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flags eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o  evalOptions
		tf targetFlags
	)
	tf.register(fs)
	fs.StringVar(&o.server.ID, "server-id", "", "one server's ID (the targeting key); shows its flag details")
	fs.StringVar(&o.server.Host, "host", "", "with -server-id: the server's host")
	fs.IntVar(&o.server.Port, "port", 22, "with -server-id: the server's port")
	fs.StringVar(&o.server.AppUsername, "user", "", "with -server-id: the user")
	fs.StringVar(&o.server.Name, "name", "", "with -server-id: the server's name")
	fs.StringVar(&o.killSwitchEnv, "kill-switch-env", featureflags.DefaultKillSwitchEnv, "variable overriding kill-switch (\"\" for none)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New(flagsUsage)
	}
	flags, err := startFlags(ctx, pos[0], o.killSwitchEnv)
	if err != nil {
		return err
	}
	defer flags.Shutdown(context.Background())
	if o.server.ID != "" {
		o.server.RootUsername, o.asRoot = o.server.AppUsername, tf.asRoot
		return evalOne(ctx, flags, o, stdout)
	}
	targets, err := tf.targets()
	if err != nil {
		return err
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
func evalOne(ctx context.Context, f loadedFlags, o evalOptions, stdout io.Writer) error {
	ec := legacy.EvaluationContext(&o.server, o.asRoot)
	for _, k := range []string{featureflags.FlagKillSwitch, featureflags.FlagUseNewPool} {
		d, err := f.Client().BooleanValueDetails(ctx, k, false, ec)
		printDetails(stdout, k, d, err)
	}
	t := routes.Evaluate(ctx, f.Client(), []routes.Target{{Server: o.server, AsRoot: o.asRoot}})
	fmt.Fprintf(stdout, "decision: %s (reason %s)\n", t.Rows[0].Route, t.Rows[0].Reason)
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

// flagsDiff shows which servers change pool from flag file OLD to NEW,
// before NEW is deployed. A NEW that would be refused is reported (its
// structural problems) and exits 1: the fleet would keep OLD.
func flagsDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flags diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf targetFlags
	tf.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New(flagsUsage)
	}
	targets, err := tf.targets()
	if err != nil {
		return err
	}
	before, err := startFlags(ctx, pos[0], "")
	if err != nil {
		return fmt.Errorf("old flags: %w", err)
	}
	defer before.Shutdown(context.Background())
	after, err := startFlags(ctx, pos[1], "")
	if err != nil {
		var de *featureflags.DocumentError
		if errors.As(err, &de) {
			fmt.Fprintf(stdout, "%s would be refused; the previous flags would stay:\n", pos[1])
			for _, p := range de.Problems {
				fmt.Fprintf(stdout, "  %s\n", p)
			}
			return exitCode(1)
		}
		return fmt.Errorf("new flags: %w", err)
	}
	defer after.Shutdown(context.Background())
	d := routes.Compare(ctx, before.Client(), after.Client(), targets)
	if tf.asJSON {
		return writeJSON(stdout, d)
	}
	if bad := after.provider.Stats().FlagsWithRuleErrors; len(bad) > 0 {
		fmt.Fprintf(stdout, "warning: in %s, the rules of %s have errors (they evaluate to their defaults): see sshpool flags validate %s\n",
			pos[1], strings.Join(bad, ", "), pos[1])
	}
	return d.Write(stdout)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
