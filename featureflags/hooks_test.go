package featureflags_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
)

func hookContext(flag string) openfeature.HookContext {
	return openfeature.NewHookContext(flag, openfeature.Boolean, false,
		openfeature.NewClientMetadata(""), openfeature.Metadata{Name: "test"},
		featureflags.ServerContext("secret-id", "secret-host", 22, "secret-user", true, "n"))
}

func details(reason openfeature.Reason, variant string, code openfeature.ErrorCode) openfeature.InterfaceEvaluationDetails {
	d := openfeature.InterfaceEvaluationDetails{Value: true}
	d.Reason, d.Variant, d.ErrorCode = reason, variant, code
	return d
}

func TestMetricsHookConcurrent(t *testing.T) {
	var h featureflags.MetricsHook // the zero value works
	const goroutines, per = 8, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				flag := fmt.Sprintf("flag-%d", i%3)
				switch {
				case i%10 == 0:
					h.Finally(context.Background(), hookContext(flag), details(openfeature.ErrorReason, "", openfeature.FlagNotFoundCode), openfeature.HookHints{})
				case g%2 == 0:
					h.Finally(context.Background(), hookContext(flag), details(openfeature.TargetingMatchReason, "on", ""), openfeature.HookHints{})
				default:
					h.Finally(context.Background(), hookContext(flag), details(openfeature.StaticReason, "off", ""), openfeature.HookHints{})
				}
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	if s.Total != goroutines*per || s.Errors != goroutines*per/10 || s.Overflow != 0 {
		t.Errorf("totals %+v", s)
	}
	if got := s.ErrorsByCode[openfeature.FlagNotFoundCode]; got != goroutines*per/10 {
		t.Errorf("FLAG_NOT_FOUND %d", got)
	}
	var sum int64
	for _, n := range s.ByKey {
		sum += n
	}
	if sum != s.Total || len(s.ByKey) != 9 {
		t.Errorf("series %d, sum %d: %v", len(s.ByKey), sum, s.ByKey)
	}
	k := featureflags.EvaluationKey{Flag: "flag-0", Reason: openfeature.ErrorReason, ErrorCode: openfeature.FlagNotFoundCode}
	if s.ByKey[k] == 0 {
		t.Errorf("missing %+v", k)
	}
}

func TestMetricsHookSeriesLimit(t *testing.T) {
	h := featureflags.NewMetricsHook()
	n := featureflags.MaxMetricsSeries + 10
	for i := range n {
		h.Finally(context.Background(), hookContext(fmt.Sprint("f", i)), details(openfeature.StaticReason, "v", ""), openfeature.HookHints{})
	}
	s := h.Snapshot()
	if len(s.ByKey) != featureflags.MaxMetricsSeries || s.Overflow != 10 || s.Total != int64(n) {
		t.Errorf("series %d, overflow %d, total %d", len(s.ByKey), s.Overflow, s.Total)
	}
}

func TestLogHook(t *testing.T) {
	var buf strings.Builder
	debug := featureflags.NewLogHook(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	debug.Finally(context.Background(), hookContext("use-new-pool"), details(openfeature.TargetingMatchReason, "on", ""), openfeature.HookHints{})
	debug.Finally(context.Background(), hookContext("nope"), details(openfeature.ErrorReason, "", openfeature.FlagNotFoundCode), openfeature.HookHints{})
	out := buf.String()
	for _, want := range []string{"level=DEBUG", "flag=use-new-pool", "reason=TARGETING_MATCH", "variant=on", "type=bool", "errorCode=FLAG_NOT_FOUND"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("log leaks the evaluation context:\n%s", out)
	}

	buf.Reset()
	info := featureflags.NewLogHook(slog.New(slog.NewTextHandler(&buf, nil)))
	info.Finally(context.Background(), hookContext("f"), details(openfeature.StaticReason, "on", ""), openfeature.HookHints{})
	if buf.Len() != 0 {
		t.Errorf("logged at info level: %s", buf.String())
	}
	_ = featureflags.NewLogHook(nil) // slog.Default
}
