package featureflags_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/legacy"
)

// copyTestdata copies a testdata file into a temporary directory.
func copyTestdata(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), name, string(data))
}

// eventRecorder forwards API events of one type to a channel.
func eventRecorder(api *openfeature.EvaluationAPI, typ openfeature.EventType) <-chan openfeature.EventDetails {
	ch := make(chan openfeature.EventDetails, 16)
	cb := func(d openfeature.EventDetails) { ch <- d }
	api.AddHandler(typ, &cb)
	return ch
}

func waitAPIEvent(t testing.TB, ch <-chan openfeature.EventDetails) openfeature.EventDetails {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(eventWait):
		t.Fatal("no API event")
	}
	return openfeature.EventDetails{}
}

func TestFlagsEndToEnd(t *testing.T) {
	path := copyTestdata(t, "flags.json")
	p := newProvider(t, path, featureflags.WithDebounce(10*time.Millisecond))
	metrics := featureflags.NewMetricsHook()
	var logs capture.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	flags := featureflags.NewFlags(p, metrics, featureflags.NewLogHook(logger))
	client := flags.Client()
	ctx := context.Background()
	ec := featureflags.ServerContext("srv-0007", "web7.prod.example.com", 2222, "deploy", true, "web7")

	d, err := client.BooleanValueDetails(ctx, featureflags.FlagUseNewPool, false, ec)
	if d.Value || d.Reason != openfeature.DefaultReason { // OpenFeature's no-op provider
		t.Fatalf("before Start: %+v, %v", d, err)
	}
	web7 := &legacy.Server{ID: "srv-0007", Host: "web7.prod.example.com", Port: 2222, Name: "web7"}
	if routesNew(flags, web7) {
		t.Fatal("routed to the new pool before Start")
	}

	must(t, flags.Start(ctx))
	changes := eventRecorder(flags.API(), openfeature.ProviderConfigChange)
	errorsCh := eventRecorder(flags.API(), openfeature.ProviderError)
	ready := eventRecorder(flags.API(), openfeature.ProviderReady)
	waitAPIEvent(t, ready) // handlers added after readiness still get READY

	d, err = client.BooleanValueDetails(ctx, featureflags.FlagUseNewPool, false, ec)
	want := refFractional("use-new-poolsrv-0007", []refEntry{{"on", 30}, {"off", 70}}) == "on"
	if err != nil || d.Reason != openfeature.TargetingMatchReason || d.Value != want {
		t.Fatalf("use-new-pool: %+v, %v (want %v)", d, err, want)
	}
	if d.FlagMetadata["owner"] != "pool-team" {
		t.Errorf("metadata %v", d.FlagMetadata)
	}
	if got := routesNew(flags, web7); got != want {
		t.Errorf("routed to the new pool: %v, want %v", got, want)
	}
	pd, _ := client.BooleanValueDetails(ctx, "prod-only", false, ec)
	if !pd.Value || pd.Variant != "on" {
		t.Errorf("prod-only with ServerContext: %+v", pd)
	}

	nf, err := client.BooleanValueDetails(ctx, "no-such-flag", true, ec)
	if err == nil || nf.ErrorCode != openfeature.FlagNotFoundCode || !nf.Value || nf.Reason != openfeature.ErrorReason {
		t.Errorf("unknown flag: %+v, %v", nf, err)
	}
	tm, err := client.StringValueDetails(ctx, featureflags.FlagKillSwitch, "dflt", ec)
	if err == nil || tm.ErrorCode != openfeature.TypeMismatchCode || tm.Value != "dflt" {
		t.Errorf("type mismatch: %+v, %v", tm, err)
	}

	// Kill switch on through the file: every call goes to legacy.
	data, _ := os.ReadFile(path)
	on := strings.Replace(string(data), `"variants": {"on": true, "off": false},
      "defaultVariant": "off"
    },`, `"variants": {"on": true, "off": false},
      "defaultVariant": "on"
    },`, 1)
	replaceFile(t, path, on)
	ch := waitAPIEvent(t, changes)
	if len(ch.FlagChanges) != 1 || ch.FlagChanges[0] != featureflags.FlagKillSwitch {
		t.Errorf("FlagChanges %v", ch.FlagChanges)
	}
	for _, key := range serverKeys(50) {
		if routesNew(flags, &legacy.Server{ID: key, Host: "h", Port: 22, Name: "n"}) {
			t.Fatalf("%s routed to the new pool with the kill switch on", key)
		}
	}

	// An invalid file: the provider reports an error, evaluation goes on.
	replaceFile(t, path, invalidFile)
	ev := waitAPIEvent(t, errorsCh)
	if !strings.Contains(ev.Message, "invalid flag file") || client.State() != openfeature.ErrorState {
		t.Errorf("error event %q, state %s", ev.Message, client.State())
	}
	if !client.Boolean(ctx, featureflags.FlagKillSwitch, false, ec) {
		t.Error("kill switch lost after an invalid file")
	}
	replaceFile(t, path, string(data))
	waitAPIEvent(t, ready)
	waitAPIEvent(t, changes)
	if client.State() != openfeature.ReadyState {
		t.Errorf("state %s after recovery", client.State())
	}

	snap := metrics.Snapshot()
	if snap.Total < 8 || snap.ErrorsByCode[openfeature.FlagNotFoundCode] != 1 {
		t.Errorf("metrics %+v", snap)
	}
	killed := featureflags.EvaluationKey{Flag: featureflags.FlagKillSwitch, Reason: openfeature.StaticReason, Variant: "on"}
	if snap.ByKey[killed] < 50 {
		t.Errorf("kill-switch on counted %d times", snap.ByKey[killed])
	}
	out := logs.String()
	if !strings.Contains(out, "flag=use-new-pool") || !strings.Contains(out, "errorCode=FLAG_NOT_FOUND") {
		t.Errorf("log lacks evaluations:\n%s", out)
	}
	for _, secret := range []string{"srv-0007", "web7.prod.example.com", "deploy"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains context value %q", secret)
		}
	}
	must(t, flags.Shutdown(ctx))
}

// routesNew reports whether the migration router, the one routing
// decision, sends a call to server to the new pool.
func routesNew(flags *featureflags.Flags, server *legacy.Server) bool {
	r := legacy.NewRouter(nil, nil, flags.Client()) // decides only: no pools
	defer r.Close()
	return r.Decide(context.Background(), server, false).Route == legacy.RouteNew
}

func TestFlagsStartFailsOnCancelledContext(t *testing.T) {
	p := newProvider(t, copyTestdata(t, "flags.json"))
	flags := featureflags.NewFlags(p)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := flags.Start(ctx); err == nil {
		t.Error("Start with a cancelled context succeeded")
	}
	must(t, flags.Shutdown(context.Background()))
}

func TestServerContext(t *testing.T) {
	ec := featureflags.ServerContext("id-1", "h.example.com", 2222, "root", true, "name")
	if ec.TargetingKey() != "id-1" {
		t.Errorf("targeting key %q", ec.TargetingKey())
	}
	want := map[string]any{"host": "h.example.com", "port": 2222, "user": "root", "asRoot": true, "serverName": "name"}
	for k, v := range want {
		if ec.Attribute(k) != v {
			t.Errorf("%s = %v, want %v", k, ec.Attribute(k), v)
		}
	}
	if len(ec.Attributes()) != len(want) {
		t.Errorf("attributes %v", ec.Attributes())
	}
}

// readTestdata returns a testdata file's contents.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
