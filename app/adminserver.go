package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// The admin server's lifecycle: Start listens and serves, Addr tells
// where, Shutdown stops. Admin (admin.go) holds the handlers.

// Start listens on the configured address synchronously (a busy address
// fails here) and serves in a goroutine that Shutdown waits for.
func (a *Admin) Start(ctx context.Context) error {
	addr := a.cfg.Admin.Addr
	if addr == "" {
		addr = DefaultAdminAddr
	}
	ln, err := listen(ctx, addr)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.ln = ln
	a.mu.Unlock()
	serve(&a.wg, a.srv, ln)
	return nil
}

// Addr returns the address the server listens on, or "" before Start.
func (a *Admin) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Shutdown stops accepting, waits for requests in flight (bounded by ctx)
// and for the serving goroutine.
func (a *Admin) Shutdown(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	a.wg.Wait()
	return err
}

// listen opens addr synchronously (so a busy port fails OnStart at once).
func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("app: admin listen: %w", err)
	}
	return ln, nil
}

// serve runs srv on ln in a goroutine tracked by wg.
func serve(wg *sync.WaitGroup, srv *http.Server, ln net.Listener) {
	wg.Go(func() { srv.Serve(ln) })
}
