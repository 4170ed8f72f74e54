package legacy_test

import (
	"testing"

	"github.com/sshpool/sshpool/legacy"
)

// FuzzKeyInjective: two servers (or roles) share a pool key only when
// they are the same host, port, ID and role. A shared key means shared
// connections, and the registrar would point both at whichever server
// registered last: commands for one server could run on the other, as the
// other's user.
//
//	go test -run '^$' -fuzz FuzzKeyInjective -fuzztime 60s ./legacy/
func FuzzKeyInjective(f *testing.F) {
	f.Add("h", "x:1:y", uint16(22), false, "h:22:x", "y", uint16(1), false)
	f.Add("::1", "web", uint16(0), true, "::1", "web", uint16(22), true)
	f.Add("10.0.0.1", "a%3Ab", uint16(22), false, "10.0.0.1", "a:b", uint16(22), false)
	f.Fuzz(func(t *testing.T, hostA, idA string, portA uint16, rootA bool, hostB, idB string, portB uint16, rootB bool) {
		a := &legacy.Server{ID: idA, Host: hostA, Port: int(portA)}
		b := &legacy.Server{ID: idB, Host: hostB, Port: int(portB)}
		if legacy.Key(a, rootA) != legacy.Key(b, rootB) {
			return
		}
		if hostA != hostB || a.EffectivePort() != b.EffectivePort() || idA != idB || rootA != rootB {
			t.Fatalf("%+v (root %v) and %+v (root %v) share the key %q", *a, rootA, *b, rootB, legacy.Key(a, rootA))
		}
	})
}
