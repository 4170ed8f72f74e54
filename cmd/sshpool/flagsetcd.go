package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdapp"
	"github.com/sshpool/sshpool/featureflags/routes"
	"github.com/sshpool/sshpool/internal/inputfile"
)

const etcdLong = `
The cluster and key come from the service's config file (--config: its
flags.etcd section, as the service reads it), from the flags below, or both
(the flags win). The password is read from the variable named by
--password-env (default SSHPOOL_ETCD_PASSWORD), never from the command line.`

// etcdFlags name the etcd cluster and key of the fleet's flag document.
type etcdFlags struct {
	config      string
	endpoints   []string
	key         string
	user        string
	passwordEnv string
	caFile      string
	certFile    string
	keyFile     string
}

func (e *etcdFlags) register(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&e.config, "config", "", "the service's config file (its flags.etcd section and targets)")
	fs.StringSliceVar(&e.endpoints, "endpoints", nil, "etcd client URLs (comma-separated)")
	fs.StringVar(&e.key, "key", "", "key of the flag document (default "+etcd.DefaultKey+")")
	fs.StringVar(&e.user, "user", "", "etcd user")
	fs.StringVar(&e.passwordEnv, "password-env", "SSHPOOL_ETCD_PASSWORD", "variable holding the etcd user's password")
	fs.StringVar(&e.caFile, "ca-file", "", "CA certificate(s) verifying etcd (PEM)")
	fs.StringVar(&e.certFile, "cert-file", "", "client certificate (PEM)")
	fs.StringVar(&e.keyFile, "key-file", "", "client certificate's key (PEM)")
}

// section returns the flags section: the config file's, with the flags
// applied over it.
func (e *etcdFlags) section() (app.Config, error) {
	cfg, err := app.Defaults("")
	if e.config != "" {
		cfg, err = app.LoadWith(app.LoadOptions{Path: e.config, Env: os.Environ()})
	}
	if err != nil {
		return cfg, err
	}
	s := &cfg.Flags.Etcd
	for _, o := range []struct {
		v   string
		dst *string
	}{{e.key, &s.Key}, {e.user, &s.Username}, {e.caFile, &s.CAFile}, {e.certFile, &s.CertFile}, {e.keyFile, &s.KeyFile}} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	if len(e.endpoints) > 0 {
		s.Endpoints = e.endpoints
	}
	if s.Username != "" && s.Password == "" && s.PasswordEnv == "" {
		s.PasswordEnv = e.passwordEnv
	}
	if len(s.Endpoints) == 0 {
		return cfg, usagef("no etcd endpoints: give --endpoints or a --config with flags.etcd.endpoints")
	}
	return cfg, nil
}

// publisher connects to the document's cluster; the caller closes it.
func (e *etcdFlags) publisher(ctx context.Context) (*etcd.Publisher, app.Config, error) {
	cfg, err := e.section()
	if err != nil {
		return nil, cfg, err
	}
	ec, err := etcdapp.Config(cfg.Flags, nil)
	if err != nil {
		return nil, cfg, fmt.Errorf("flags.etcd: %w", err)
	}
	p, err := etcd.NewPublisher(ctx, ec)
	return p, cfg, err
}

// publishFlags are the options of every command that publishes.
type publishFlags struct {
	etcdFlags
	targetFlags
	author, message string
	expect          int64
	dryRun, strict  bool
}

func (p *publishFlags) register(c *cobra.Command) {
	p.etcdFlags.register(c)
	p.targetFlags.register(c)
	fs := c.Flags()
	fs.StringVarP(&p.message, "message", "m", "", "why (kept in the history)")
	fs.StringVar(&p.author, "author", "", "who publishes (kept in the history; default: $USER@hostname)")
	fs.Int64Var(&p.expect, "expect-revision", 0, "publish only if the document in place is at this revision (the one you reviewed; -1: none)")
	fs.BoolVar(&p.dryRun, "dry-run", false, "lint and show the diff, publish nothing")
	fs.BoolVar(&p.strict, "strict", false, "refuse a document with warnings too")
}

// defaultAuthor is user@hostname.
func defaultAuthor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); name == "" && err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// servers returns the targets of --servers/--server, else the config's
// targets, else none.
func (p *publishFlags) servers(cfg app.Config) ([]routes.Target, error) {
	if p.serversFile == "" && len(p.specs) == 0 {
		if p.config == "" || len(cfg.Targets) == 0 {
			return nil, nil
		}
		p.serversFile = p.config
	}
	return p.targets()
}

// publishResult is the JSON document of push, rollback and kill-switch.
type publishResult struct {
	Key          string              `json:"key"`
	Action       string              `json:"action"`
	BaseRevision int64               `json:"base_revision"`
	Revision     int64               `json:"revision,omitempty"` // 0 when nothing was published
	Published    bool                `json:"published"`
	Unchanged    bool                `json:"unchanged"`
	Changes      []string            `json:"changes,omitempty"`
	Lint         featureflags.Report `json:"lint"`
	Diff         *routes.Diff        `json:"diff,omitempty"`
}

// publish shows a plan (lint warnings, edits, the diff of routed servers)
// and, unless it is a dry run or changes nothing, publishes it.
func publish(ctx context.Context, pub *etcd.Publisher, plan *etcd.Plan, o *publishFlags, cfg app.Config, stdout io.Writer) error {
	res := publishResult{Key: pub.Key(), Action: plan.Action, BaseRevision: plan.Base.Revision,
		Unchanged: plan.Unchanged(), Changes: plan.Changes, Lint: plan.Lint}
	targets, err := o.servers(cfg)
	if err != nil {
		return err
	}
	if len(targets) > 0 {
		d, err := plan.Diff(ctx, targets)
		if err != nil {
			return err
		}
		res.Diff = &d
	}
	warned := o.strict && len(plan.Lint.Problems) > 0
	if !res.Unchanged && !o.dryRun && !warned {
		rec, err := pub.Publish(ctx, plan, etcd.Note{Author: cmp.Or(o.author, defaultAuthor()), Message: o.message})
		if err != nil {
			return err
		}
		res.Revision, res.Published = rec.Revision, true
	}
	if o.asJSON {
		if err := writeJSON(stdout, res); err != nil {
			return err
		}
	} else {
		writePlan(stdout, res, plan, o.dryRun)
	}
	if warned {
		return exitCode(exitError)
	}
	return nil
}

// writePlan prints what publish did.
func writePlan(w io.Writer, res publishResult, plan *etcd.Plan, dryRun bool) {
	for _, p := range res.Lint.Problems {
		fmt.Fprintf(w, "%s:%d:%d: %s\n", res.Lint.Origin, p.Line, p.Column, p)
	}
	for _, c := range res.Changes {
		fmt.Fprintf(w, "%s: %s\n", featureflags.FlagKillSwitch, c)
	}
	if res.Diff != nil {
		res.Diff.Write(w)
	} else {
		fmt.Fprintln(w, "no servers given (--servers, --server or a --config with targets): routing diff skipped")
	}
	base := "no document"
	if res.BaseRevision != 0 {
		base = "rev " + strconv.FormatInt(res.BaseRevision, 10)
	}
	switch {
	case res.Unchanged:
		fmt.Fprintf(w, "%s: %s is already the document in place (%s); nothing published\n", res.Key, plan.Origin, base)
	case res.Published:
		fmt.Fprintf(w, "%s: published %s (%s) as rev %d, replacing %s\n", res.Key, plan.Origin, res.Action, res.Revision, base)
	case dryRun:
		expect := res.BaseRevision
		if expect == 0 {
			expect = -1 // no document
		}
		fmt.Fprintf(w, "%s: dry run: would replace %s; publish exactly this with --expect-revision %d\n", res.Key, base, expect)
	default:
		fmt.Fprintf(w, "%s: not published: the document has warnings and --strict is set\n", res.Key)
	}
}

// conflictHint adds what to do to a CAS conflict.
func conflictHint(err error) error {
	var ce *etcd.ConflictError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w\n(nothing was published)", err)
	}
	var re *etcd.RefusedError
	if errors.As(err, &re) {
		var b strings.Builder
		re.Report.Write(&b)
		return fmt.Errorf("%s%w", b.String(), err)
	}
	return err
}

func newFlagsPushCmd() *cobra.Command {
	var o publishFlags
	c := &cobra.Command{
		Use:   "push FILE",
		Short: "Publish a flag file to the fleet's etcd key, safely",
		Long: `Publish a flag file to the fleet's etcd key: lint it (a file a provider
would refuse is never published; with --strict, nor one with warnings), show
which servers change pool (as flags diff does; servers from --servers,
--server or the --config's targets), then write it with compare-and-swap on
the revision read: if someone published in between, nothing is written and
the command fails. --expect-revision pins the revision you reviewed (as
--dry-run prints it). Every publish is recorded with its author, time and
message (sshpool flags history).` + etcdLong,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return flagsPush(cmd.Context(), a[0], &o, cmd.OutOrStdout())
		},
	}
	o.register(c)
	return c
}

func flagsPush(ctx context.Context, path string, o *publishFlags, stdout io.Writer) error {
	pub, cfg, err := o.publisher(ctx)
	if err != nil {
		return err
	}
	defer pub.Close()
	limit := cfg.Flags.MaxBytes
	if limit <= 0 {
		limit = featureflags.DefaultMaxDocumentBytes
	}
	data, err := inputfile.ReadContext(ctx, path, inputfile.Limits{MaxBytes: limit, Timeout: featureflags.DefaultReadTimeout})
	if err != nil {
		return fmt.Errorf("featureflags: flag file: %w", err)
	}
	plan, err := pub.PlanDocument(ctx, path, data, etcd.PlanOptions{ExpectRevision: o.expect})
	if err != nil {
		return conflictHint(err)
	}
	return conflictHint(publish(ctx, pub, plan, o, cfg, stdout))
}

func newFlagsRollbackCmd() *cobra.Command {
	var o publishFlags
	c := &cobra.Command{
		Use:   "rollback REV",
		Short: "Publish again the flag document an earlier revision wrote",
		Long: `Publish again the flag document that revision REV wrote (see flags
history), as a new revision, with the same lint, diff and compare-and-swap
as push. The document comes from etcd while it keeps the revision, else from
sshpool's history (the last 100 publishes).` + etcdLong,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			rev, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil || rev <= 0 {
				return usagef("REV %q: want a revision number from sshpool flags history", a[0])
			}
			return flagsRollback(cmd.Context(), rev, &o, cmd.OutOrStdout())
		},
	}
	o.register(c)
	return c
}

func flagsRollback(ctx context.Context, rev int64, o *publishFlags, stdout io.Writer) error {
	pub, cfg, err := o.publisher(ctx)
	if err != nil {
		return err
	}
	defer pub.Close()
	plan, err := pub.PlanRollback(ctx, rev, etcd.PlanOptions{ExpectRevision: o.expect})
	if err != nil {
		return conflictHint(err)
	}
	return conflictHint(publish(ctx, pub, plan, o, cfg, stdout))
}

func newFlagsKillSwitchCmd() *cobra.Command {
	var o publishFlags
	c := &cobra.Command{
		Use:   "kill-switch on|off",
		Short: "Turn the fleet's kill switch on (every call to the legacy pool) or off",
		Long: `Turn the kill switch on (every instance sends every call to the legacy
pool) or off, in the document in place: the kill-switch flag becomes ENABLED
with a static default of the wanted value and loses its targeting; the rest
of the document is kept as written. Published at once, with the same
compare-and-swap as push (retry if someone published in between).` + etcdLong,
		Args:      args(cobra.ExactArgs(1)),
		ValidArgs: []string{"on", "off"},
		RunE: func(cmd *cobra.Command, a []string) error {
			if a[0] != "on" && a[0] != "off" {
				return usagef("want on or off, not %q", a[0])
			}
			return flagsKillSwitch(cmd.Context(), a[0] == "on", &o, cmd.OutOrStdout())
		},
	}
	o.register(c)
	return c
}

func flagsKillSwitch(ctx context.Context, on bool, o *publishFlags, stdout io.Writer) error {
	pub, cfg, err := o.publisher(ctx)
	if err != nil {
		return err
	}
	defer pub.Close()
	plan, err := pub.PlanKillSwitch(ctx, on, etcd.PlanOptions{ExpectRevision: o.expect})
	if err != nil {
		return conflictHint(err)
	}
	return conflictHint(publish(ctx, pub, plan, o, cfg, stdout))
}

func newFlagsHistoryCmd() *cobra.Command {
	var (
		e      etcdFlags
		limit  int
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "history",
		Short: "List the revisions of the fleet's flag document",
		Long: `List the revisions of the fleet's flag document, newest first: revision,
when and by whom (for documents sshpool published; "-" for one written by
another tool), what (push, rollback, kill-switch), its SHA-256, and a summary
of the routing flags. "*" marks the document in place. Revisions etcd has
compacted are listed from sshpool's history; flags rollback takes any listed
revision.

With --json the result is a list of {revision, current, action, author,
etcd_user, time, message, rollback_of, sha256, size, summary, in_etcd,
recorded}.` + etcdLong,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return flagsHistory(cmd.Context(), &e, limit, asJSON, cmd.OutOrStdout())
		},
	}
	e.register(c)
	c.Flags().IntVar(&limit, "limit", 20, "revisions to list")
	addJSONFlag(c, &asJSON)
	return c
}

func flagsHistory(ctx context.Context, e *etcdFlags, limit int, asJSON bool, stdout io.Writer) error {
	if limit <= 0 {
		return usagef("--limit %d: want at least 1", limit)
	}
	pub, _, err := e.publisher(ctx)
	if err != nil {
		return err
	}
	defer pub.Close()
	hist, err := pub.History(ctx, limit)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, hist)
	}
	if len(hist) == 0 {
		fmt.Fprintf(stdout, "%s: no document published\n", pub.Key())
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REV\tWHEN\tWHO\tACTION\tSHA256\tSUMMARY")
	for _, h := range hist {
		rev := strconv.FormatInt(h.Revision, 10)
		if h.Current {
			rev += "*"
		}
		when, who, action := "-", "-", h.Action
		if !h.Time.IsZero() {
			when = h.Time.Local().Format(time.DateTime)
		}
		if h.Author != "" {
			who = h.Author
		}
		switch {
		case action == "":
			action = "-"
		case h.RollbackOf != 0:
			action = fmt.Sprintf("rollback to %d", h.RollbackOf)
		}
		if h.Message != "" {
			action += ": " + inputfile.Excerpt(h.Message, 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rev, when, who, action, h.SHA256[:12], h.Summary)
	}
	return tw.Flush()
}
