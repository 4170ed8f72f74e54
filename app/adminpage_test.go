package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
)

// TestAdminPage renders the page after calls through both the pool and the
// router: the pools side by side, the routing table with the route and the
// reason, the flag source, recent events, the redacted config; no script,
// and a policy that forbids any.
func TestAdminPage(t *testing.T) {
	f := newFixture(t)
	var (
		m     *providers.Migration
		admin *app.Admin
		logs  bytes.Buffer
	)
	events := app.NewEventLog(slog.NewTextHandler(&logs, nil), 0)
	fxa := fxtest.New(t, fx.NopLogger, fx.Supply(slog.New(events), events), app.Module(app.WithConfig(f.cfg)), fx.Populate(&m, &admin)).RequireStart()
	defer fxa.RequireStop()
	if _, err := m.Pool.Run(context.Background(), "web", "true"); err != nil {
		t.Fatal(err)
	}
	conn, err := legacy.Provider().GetOrCreateConnection(f.server("web-1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecuteCommand("true"); err != nil {
		t.Fatal(err)
	}
	decisions := m.Router.Stats().Decisions
	resp, err := http.Get("http://" + admin.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	page := body.String()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="1">`,
		`<tr class="key" data-key="web">`,                         // the pool's own key
		`data-key="` + legacy.Key(f.server("web-1"), false) + `"`, // the adapter's key, in the new pool
		`<tr class="route" id="route-web-1" data-route="new" data-reason="flag-on">`,
		`flag-on (use-new-pool = on)`,
		`<tr class="route" id="route-web" data-route="new" data-reason="flag-on">`, // a configured target
		`configured, not called yet`,
		`id="flag-source">flags: <code>` + f.cfg.Flags.File + `</code>`,
		`<td>pool dial</td>`,
		`password: ` + "&lt;redacted&gt;",
		`<polyline class="s-open" points="`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "s3cret-pw") || strings.Contains(page, "<script") {
		t.Error("the page leaks a secret or carries a script")
	}
	if m.Router.Stats().Decisions != decisions {
		t.Error("rendering the routing table counted decisions")
	}
	for path, want := range map[string]string{"/assets/style.css": "text/css", "/assets/icon.svg": "image/svg+xml"} {
		if r, err := http.Get("http://" + admin.Addr() + path); err != nil || r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), want) {
			t.Errorf("%s: %v %v", path, r, err)
		} else {
			r.Body.Close()
		}
	}
	for q, code := range map[string]int{"?refresh=0": 200, "?refresh=5": 200, "?refresh=x": 400, "?refresh=61": 400} {
		r, err := http.Get("http://" + admin.Addr() + "/" + q)
		if err != nil || r.StatusCode != code {
			t.Errorf("%s: %v %v, want %d", q, r, err, code)
			continue
		}
		r.Body.Close()
	}
	if code, body := get(t, "http://"+admin.Addr()+"/nope"); code != 404 {
		t.Errorf("/nope: %d %s", code, body)
	}
}

func TestEventLog(t *testing.T) {
	var out bytes.Buffer
	l := app.NewEventLog(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}), 3)
	log := slog.New(l).With("component", "x").WithGroup("g")
	log.Debug("dropped")
	for _, m := range []string{"one", "two", "three", "four"} {
		log.Info(m, "n", 1, slog.Group("sub", "k", "v"))
	}
	log.Warn("five")
	ev := l.Events()
	var msgs []string
	for _, e := range ev {
		msgs = append(msgs, e.Level+" "+e.Message)
	}
	if strings.Join(msgs, ",") != "INFO three,INFO four,WARN five" {
		t.Errorf("kept %v", msgs)
	}
	if ev[0].Attrs != "component=x g.n=1 g.sub.k=v" {
		t.Errorf("attrs %q", ev[0].Attrs)
	}
	// The wrapped handler still sees only its own level.
	if strings.Count(out.String(), "level=") != 1 || !regexp.MustCompile(`level=WARN msg=five component=x`).MatchString(out.String()) {
		t.Errorf("wrapped output:\n%s", out.String())
	}
}

// TestAdminPageChartsHistory: the pool's health loop records its
// snapshot history (pool.History) and the page charts it: one point per
// recorded snapshot plus the current one.
func TestAdminPageChartsHistory(t *testing.T) {
	f := newFixture(t)
	f.cfg.Pool.HealthInterval, f.cfg.Pool.HealthTimeout = 100*time.Millisecond, 50*time.Millisecond
	var (
		m     *providers.Migration
		admin *app.Admin
	)
	fxa := fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(f.cfg)), fx.Populate(&m, &admin)).RequireStart()
	defer fxa.RequireStop()
	deadline := time.Now().Add(10 * time.Second)
	for len(m.Pool.History()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("history has %d snapshots after 10s of 100ms health ticks", len(m.Pool.History()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	n := len(m.Pool.History())
	_, page := get(t, "http://"+admin.Addr()+"/")
	pts := regexp.MustCompile(`<polyline class="s-open" points="([^"]*)"`).FindStringSubmatch(page)
	if pts == nil {
		t.Fatal("the page has no chart of open connections")
	}
	if got := len(strings.Fields(pts[1])); got < n+1 {
		t.Errorf("chart has %d points, want at least %d (history %d + now)", got, n+1, n)
	}
}
