package legacy_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/legacy"
)

// streamProviders are the providers with opts, logging to log.
func streamProviders(t *testing.T, e *env, log *capture.Buffer, opts ...legacy.Option) map[string]legacy.ConnectionProvider {
	opts = append(opts, legacy.WithLogger(slog.New(slog.NewTextHandler(log, nil))))
	client, _ := newFlags(t, flagSet(100, false))
	return map[string]legacy.ConnectionProvider{
		"legacy":  e.legacyPool(t, opts...),
		"adapter": adaptr(t, e, opts...),
		"router":  legacy.NewRouter(e.legacyPool(t, opts...), adaptr(t, e, opts...), client),
	}
}

// TestStreamDropsNothingSilently: a reader that takes nothing does not
// stall the command, which ends; the lines it did not take are counted in
// the status and logged (the old pool dropped them silently).
func TestStreamDropsNothingSilently(t *testing.T) {
	e := newEnv(t)
	var log capture.Buffer
	for name, p := range streamProviders(t, e, &log, legacy.WithStreamBuffer(10, 20*time.Millisecond)) {
		t.Run(name, func(t *testing.T) {
			c := connect(t, p, e.server("drop-"+name), false)
			if err := c.ExecuteCommandStream("yes 1000 line", make(chan string)); err != nil {
				t.Fatalf("stream with a reader that never reads: %v", err)
			}
			if got := c.GetHealthStatus().DroppedLines; got != 1000 {
				t.Fatalf("DroppedLines = %d, want 1000", got)
			}
			out := make(chan string, 5) // takes 5, then nobody reads
			if err := c.ExecuteCommandStream("yes 100 line", out); err != nil || len(out) != 5 {
				t.Fatalf("partial reader: %v, %d delivered", err, len(out))
			}
			if got := c.GetHealthStatus().DroppedLines; got != 1095 {
				t.Fatalf("DroppedLines = %d, want 1095", got)
			}
			if !strings.Contains(log.String(), "key="+c.Key()+" dropped=1000") {
				t.Fatalf("drops not logged: %s", log.String())
			}
		})
	}
}

// TestStreamSlowReaderGetsEverything: a reader slower than the command
// still gets every line, in order, once the command has ended.
func TestStreamSlowReaderGetsEverything(t *testing.T) {
	e := newEnv(t)
	var log capture.Buffer
	for name, p := range streamProviders(t, e, &log) {
		t.Run(name, func(t *testing.T) {
			c := connect(t, p, e.server("slow-"+name), false)
			got, err := collect(func(out chan<- string) error {
				slow := make(chan string)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for l := range slow {
						time.Sleep(50 * time.Microsecond)
						out <- l
					}
				}()
				err := c.ExecuteCommandStream("yes 2000 line", slow)
				close(slow)
				<-done
				return err
			})
			if err != nil || len(got) != 2000 || c.GetHealthStatus().DroppedLines != 0 {
				t.Fatalf("slow reader: %d lines, %d dropped, %v", len(got), c.GetHealthStatus().DroppedLines, err)
			}
		})
	}
}
