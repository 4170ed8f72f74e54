// Package inputfile reads the files sshpool takes from outside — flag files,
// the configuration file, ssh_config and its Includes, known_hosts and
// identity files — with the bounds every such read needs.
//
// A read through Read:
//   - follows symbolic links, then requires a regular file: a named pipe,
//     a device such as /dev/zero, a socket or a directory is refused before
//     anything is read from it. The null device (os.DevNull) is the one
//     exception: it reads as empty, since /dev/null is the usual way to say
//     "no file" (ssh -F /dev/null, UserKnownHostsFile /dev/null);
//   - opens without blocking (O_NONBLOCK), so a path swapped for a FIFO between
//     the check and the open cannot hang the caller, and checks the opened
//     file again;
//   - refuses a file larger than Limits.MaxBytes, judged by its size before
//     reading and again by what was read (a file that grows while read), so
//     memory stays proportional to the document;
//   - returns within Limits.Timeout. A read stuck in the kernel (a hung
//     network file system) is abandoned at the deadline; its goroutine ends
//     when the kernel returns.
//
// Every failure is an *Error naming the path and what was wrong; errors.Is
// matches ErrNotRegular, ErrTooLarge and ErrTimeout, and fs.ErrNotExist and
// fs.ErrPermission keep working.
//
// Excerpt cuts outside input echoed into an error message to a short quoted
// prefix.
package inputfile
