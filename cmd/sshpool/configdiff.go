package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/pool"
)

func newConfigDiffCmd(o *configOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Show what replacing config file OLD by NEW changes, before reloading or restarting",
		Long: `Show what replacing config file OLD by NEW changes in a process running OLD,
before deploying NEW: the pool settings that a reload (SIGHUP to sshpool
serve) applies, each with its old and new value, and what they do to the
pool (sessions per connection resized, lifetime or balancing changes, idle
connections over lowered limits closed at once and busy ones once idle); then
the keys of other sections that changed, which take effect at the next start
(their values are not shown: they may be secrets). Both files are loaded as
serve loads them (with the SSHPOOL_ environment and --preset); a file with
problems is reported and exits 1.

The counts of connections closed or held back depend on the running pool:
a reload logs them (close_idle, over_limit_busy, over_session_limit); here
they are zero.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return configDiff(cmd.OutOrStdout(), cmd.ErrOrStderr(), a[0], a[1], *o)
		},
	}
}

// configDiff prints what replacing the config file oldPath by newPath
// changes (app.DiffConfig), as text or as JSON (app.ConfigDiff).
func configDiff(stdout, stderr io.Writer, oldPath, newPath string, o configOptions) error {
	old, err := loadFile(oldPath, o.preset, stderr)
	if err != nil {
		return err
	}
	next, err := loadFile(newPath, o.preset, stderr)
	if err != nil {
		return err
	}
	d := app.DiffConfig(old, next, nil)
	if o.asJSON {
		return writeJSON(stdout, d)
	}
	return writeConfigDiff(stdout, d)
}

// writeConfigDiff prints d for a reader: the pool's changes and their
// impact, then the keys waiting for a restart.
func writeConfigDiff(w io.Writer, d app.ConfigDiff) error {
	if d.Empty() {
		_, err := fmt.Fprintln(w, "no changes")
		return err
	}
	if len(d.Applied) > 0 {
		fmt.Fprintln(w, "pool (a reload applies it):")
		if len(d.Pool.Changes) == 0 {
			fmt.Fprintln(w, "  no change once defaults apply")
		}
		for _, c := range d.Pool.Changes {
			fmt.Fprintf(w, "  pool.%s: %s → %s\n", c.Field, orNone(c.Old), orNone(c.New))
		}
		if d.Pool.SessionsResized {
			fmt.Fprintln(w, "  sessions per connection resized: new leases see the new bound at once; leases held are not touched")
		}
		if limitLowered(d.Pool.Changes) {
			fmt.Fprintln(w, "  limits lowered: idle connections over them are closed at once, busy ones once idle")
		}
		for _, n := range d.Pool.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if len(d.Pending) > 0 {
		fmt.Fprintln(w, "restart needed (values not shown):")
		for _, k := range d.Pending {
			fmt.Fprintf(w, "  %s\n", k)
		}
	}
	return nil
}

// limitLowered reports whether a change lowers a connection limit: then
// connections over it are closed (idle ones at once).
func limitLowered(changes []pool.FieldChange) bool {
	for _, c := range changes {
		if c.Field != "max_connections" && c.Field != "max_connections_per_key" {
			continue
		}
		o, err1 := strconv.Atoi(c.Old)
		n, err2 := strconv.Atoi(c.New)
		if err1 == nil && err2 == nil && n < o {
			return true
		}
	}
	return false
}

// orNone is v, or "none" for a value a config omits (its zero).
func orNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}
