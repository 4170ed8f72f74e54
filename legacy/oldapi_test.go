package legacy_test

import (
	"os"
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
		if os.Getenv("CI") == "true" {
			t.Fatal("go command not found (CI=true): the old call sites must be built")
		}
		t.Skip("go command not found")
	}
	for _, args := range [][]string{{"build", "-o", "/dev/null", "./testdata/oldservice"}, {"vet", "./testdata/oldservice"}} {
		cmd := exec.Command(goBin, args...)
		// The real HOME: under TestMain's temporary one the go command
		// would start with an empty build and module cache (minutes of
		// downloads and compiling, and no build offline).
		cmd.Env = append(os.Environ(), "HOME="+realHome)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %v: %v\n%s", args, err, out)
		}
	}
}
