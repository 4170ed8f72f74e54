package app

import (
	"fmt"
	"html"
	"net/http"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"time"
)

// maxProfileSeconds bounds a CPU profile or execution trace requested from
// /debug/pprof/profile or /debug/pprof/trace.
const maxProfileSeconds = 60

// registerPprof adds Go's profiles under /debug/pprof/ to mux. They are
// written with runtime/pprof and runtime/trace directly: importing
// net/http/pprof would register the same handlers on http.DefaultServeMux
// of every program that imports this package, exposing them wherever such
// a program serves the default mux, whatever admin.pprof says. The paths
// and formats are net/http/pprof's, so `go tool pprof` works unchanged:
//
//	/debug/pprof/             the index of profiles
//	/debug/pprof/{name}       a named profile (heap, goroutine, allocs,
//	                          block, mutex, threadcreate); ?debug=1 or 2
//	                          for text
//	/debug/pprof/profile      CPU profile, ?seconds=N (default 30, max 60)
//	/debug/pprof/trace        execution trace, ?seconds=N (default 1, max 60)
func registerPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/{$}", pprofIndex)
	mux.HandleFunc("GET /debug/pprof/profile", pprofCPU)
	mux.HandleFunc("GET /debug/pprof/trace", pprofTrace)
	mux.HandleFunc("GET /debug/pprof/{name}", pprofNamed)
}

func pprofIndex(w http.ResponseWriter, _ *http.Request) {
	profiles := pprof.Profiles()
	sort.Slice(profiles, func(i, j int) bool { return profiles[i].Name() < profiles[j].Name() })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<html><body><h1>/debug/pprof/</h1><ul>\n")
	for _, p := range profiles {
		n := html.EscapeString(p.Name())
		fmt.Fprintf(w, "<li><a href=\"%s?debug=1\">%s</a> (%d)</li>\n", n, n, p.Count())
	}
	fmt.Fprint(w, "<li><a href=\"profile\">profile</a> (CPU, ?seconds=30)</li>\n")
	fmt.Fprint(w, "<li><a href=\"trace\">trace</a> (?seconds=1)</li>\n</ul></body></html>\n")
}

func pprofNamed(w http.ResponseWriter, r *http.Request) {
	p := pprof.Lookup(r.PathValue("name"))
	if p == nil {
		http.Error(w, "app: unknown profile "+strconv.Quote(r.PathValue("name")), http.StatusNotFound)
		return
	}
	debug, _ := strconv.Atoi(r.FormValue("debug"))
	if debug > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	_ = p.WriteTo(w, debug) // a write error means the client left
}

// seconds returns the request's ?seconds=, def when absent, or an error
// naming the parameter when it is not an integer in 1..maxProfileSeconds.
func seconds(r *http.Request, def int) (time.Duration, error) {
	v := r.FormValue("seconds")
	if v == "" {
		return time.Duration(def) * time.Second, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxProfileSeconds {
		return 0, fmt.Errorf("app: seconds=%q, want an integer from 1 to %d", v, maxProfileSeconds)
	}
	return time.Duration(n) * time.Second, nil
}

// sleepRequest waits d or until the client goes away.
func sleepRequest(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func pprofCPU(w http.ResponseWriter, r *http.Request) {
	d, err := seconds(r, 30)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(w); err != nil {
		http.Error(w, "app: cpu profile: "+err.Error(), http.StatusConflict) // one at a time
		return
	}
	sleepRequest(r, d)
	pprof.StopCPUProfile()
}

func pprofTrace(w http.ResponseWriter, r *http.Request) {
	d, err := seconds(r, 1)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := trace.Start(w); err != nil {
		http.Error(w, "app: trace: "+err.Error(), http.StatusConflict)
		return
	}
	sleepRequest(r, d)
	trace.Stop()
}
