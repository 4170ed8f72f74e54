package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshpool/sshpool/app"
)

// FuzzLoadConfig loads arbitrary YAML. It must never panic; a loaded
// configuration is valid, exports without its secrets, and its export
// loads back to the same export (nothing is lost or invented on the way).
//
//	go test -run '^$' -fuzz FuzzLoadConfig -fuzztime 60s ./app/
func FuzzLoadConfig(f *testing.F) {
	for _, seed := range []string{
		"pool:\n  max_connections: 30\n  wait_timeout: 2s\n  load_balancing: round-robin\n",
		"targets:\n  web:\n    host: 10.0.0.5\n    port: 2222\n    user: deploy\n    password: S3CR3T-x\n",
		"admin:\n  addr: 127.0.0.1:9090\nrouter:\n  decision_cache: 0s\n",
		"pool:\n  max_connections: -1\n",
		"pool: [1, 2]\n",
		"{}",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, doc string) {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := app.LoadConfig(path, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("LoadConfig returned a configuration that fails Validate: %v", err)
		}
		out, err := app.Export(c)
		if err != nil {
			t.Fatalf("Export of a loaded configuration: %v", err)
		}
		for name, tg := range c.Targets {
			if strings.HasPrefix(tg.Password, "S3CR3T-") && strings.Contains(string(out), tg.Password) {
				t.Fatalf("export leaks target %q's password:\n%s", name, out)
			}
		}
		back := filepath.Join(dir, "back.yaml")
		if err := os.WriteFile(back, out, 0o600); err != nil {
			t.Fatal(err)
		}
		c2, err := app.LoadConfig(back, nil)
		if err != nil {
			t.Fatalf("export does not load back: %v\n%s", err, out)
		}
		out2, err := app.Export(c2)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("export changed on a round trip (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}
