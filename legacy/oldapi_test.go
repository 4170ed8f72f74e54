package legacy_test

import (
	"os/exec"
	"testing"
)

// TestOldCallSitesCompile builds and vets testdata/oldservice, call-site
// code of the old pool ported by changing its import lines only: every form
// of the old API must keep compiling unchanged.
func TestOldCallSitesCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds testdata/oldservice with the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	for _, args := range [][]string{{"build", "-o", "/dev/null", "./testdata/oldservice"}, {"vet", "./testdata/oldservice"}} {
		if out, err := exec.Command(goBin, args...).CombinedOutput(); err != nil {
			t.Errorf("go %v: %v\n%s", args, err, out)
		}
	}
}
