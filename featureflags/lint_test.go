package featureflags_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshpool/sshpool/featureflags"
)

var update = flag.Bool("update", false, "rewrite the linter's golden files")

// TestLintGolden compares the linter's report for each document of
// testdata/lint (and the mixed flagd document) with its .golden file; run
// with -update to rewrite them after a deliberate change.
func TestLintGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/lint/*.[jy]*")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "testdata/flagd-mixed.json")
	for _, path := range files {
		if strings.HasSuffix(path, ".golden") {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := featureflags.Lint(filepath.Base(path), data).Write(&b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata/lint", filepath.Base(path)+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestLintGolden -update)", err)
			}
			if b.String() != string(want) {
				t.Errorf("report differs from %s:\n--- got\n%s--- want\n%s", golden, b.String(), want)
			}
		})
	}
}
