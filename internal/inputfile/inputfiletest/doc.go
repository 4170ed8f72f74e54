// Package inputfiletest makes the files a bounded read (package inputfile)
// must refuse at once, for the tests of every package that reads outside
// input: a named pipe (a read would wait for a writer for ever), a symbolic
// link to one, a symbolic link to /dev/zero (a read would never end) and a
// regular file one byte over a size limit.
//
// Each function fails the test when the file cannot be made. The tests keep
// their own assertions: what error each file gives is the tested package's
// contract, not this package's.
package inputfiletest
