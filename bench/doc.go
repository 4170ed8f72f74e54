// Package bench holds side-by-side benchmarks of the sshpool pool against
// other Go pools (github.com/jackc/puddle/v2). It is a separate module so
// that the library's go.mod carries no benchmark-only dependencies.
//
//	cd bench && go test -run '^$' -bench . -benchmem
package bench
