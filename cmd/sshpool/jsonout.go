package main

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
)

// The --json convention, for every command that has the flag:
//   - stdout carries exactly one JSON document (an object), indented,
//     followed by a newline; nothing else is written to stdout;
//   - field names are snake_case; durations are seconds as numbers (field
//     names end in _seconds), rates per second (_per_second), counts are
//     integers; absent optional values are omitted, never "";
//   - messages, warnings and progress stay on stderr;
//   - the exit code means the same as without --json (a failed command
//     still prints its JSON result when it has one, then exits non-zero).
//
// Each command's result type is documented where it is declared and
// checked by the golden tests under testdata/.

// addJSONFlag adds the --json flag to cmd.
func addJSONFlag(cmd *cobra.Command, v *bool) {
	cmd.Flags().BoolVar(v, "json", false, "print the result as one JSON object on stdout")
}

// writeJSON writes v as the command's JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
