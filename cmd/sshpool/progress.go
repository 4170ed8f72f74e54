package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is a progress bar on stderr when stderr is a terminal, and
// nothing otherwise (piped output stays clean).
type progress struct {
	bar *progressbar.ProgressBar // nil: no terminal
}

// newProgress returns a bar counting to total on w when w is a terminal.
func newProgress(w io.Writer, total int, what string) progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return progress{}
	}
	return progress{bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("cmd"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

// add counts one command; it is safe for concurrent use.
func (p progress) add() {
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// describe changes the label (the contender running).
func (p progress) describe(what string) {
	if p.bar != nil {
		p.bar.Describe(what)
	}
}

// finish clears the bar.
func (p progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
