package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// ServeRealServer answers every HTTP request on listen with name, until
// ctx ends. The demo runs it as `tandem demo serve-http` inside a real
// server's namespace.
func ServeRealServer(ctx context.Context, name, listen string) error {
	return serve(ctx, listen, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, name)
	}))
}

// ServeDirector stands in for IPVS on a kernel without it: it answers on
// listen (the VIP's port, in a director's namespace) with the director's
// name and the real servers its tandem (control socket) sees up. The
// health checks behind it are tandem's own.
func ServeDirector(ctx context.Context, name, listen, socket, logPath string) error {
	return serve(ctx, listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := observe(r.Context(), name, socket, logPath)
		up := "? (its tandem does not answer)"
		if v.Err == nil {
			up = strings.Join(upNames(v.Health), " ")
			if up == "" {
				up = "none"
			}
		}
		fmt.Fprintln(w, directorAnswer(name, up))
	}))
}

// directorAnswer is what a director says when it answers itself.
func directorAnswer(name, up string) string {
	return fmt.Sprintf("director %s (IPVS missing: answering itself); real servers up: %s", name, up)
}

func serve(ctx context.Context, listen string, h http.Handler) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server on that port?)", listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
