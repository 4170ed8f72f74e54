// Package routes shows where the migration router sends servers: for a set
// of servers and a flags client, the pool each one goes to and why (Table),
// and which servers change pool between two flag documents (Diff). It
// decides exactly as legacy.Router does — kill-switch first, then
// use-new-pool, every evaluation failure to the legacy pool — without
// touching the pools or the live router's counters.
//
// Servers come from the configuration's YAML or JSON (its targets section:
// LoadServers) or from command-line specifications (ParseServer). The CLI's
// "flags eval" and "flags diff" and the admin server's /debug/routes are
// built on it.
package routes
