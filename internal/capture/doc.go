// Package capture collects a remote command's output in memory. Buffer is
// the one output buffer of sshpool: sshconn captures a command's stdout and
// stderr into Result with it, and legacy captures interleaved output with it.
//
// x/crypto/ssh copies each stream of a session with io.Copy. A writer that
// is not an io.ReaderFrom makes io.Copy allocate a 32 KiB buffer per stream
// per command, more than everything else a command costs; Buffer implements
// ReadFrom over a pooled chunk, so a command with no output allocates
// nothing here and one with output allocates only what it keeps.
//
// A Buffer may be limited (SetLimit): output past the limit is refused with
// ErrLimit and reported once to a callback, so a command that writes without
// end cannot exhaust memory.
package capture
