package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// pprofRetry bounds how long an upgrade's new process waits for the old
// one to let go of the profiler's address.
const pprofRetry = time.Minute

// startPprof serves Go's profiler on addr, which must be a loopback address:
// profiles show memory contents' shape and must not be reachable from
// outside. It returns a function that stops the server. An upgrade's new
// process (handedOver) finds the address held by the old one until that
// one exits: it binds it then, in the background, instead of failing.
func startPprof(addr string, log *zap.Logger, handedOver bool) (func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--pprof: %s is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && handedOver && errors.Is(err, syscall.EADDRINUSE) {
		stop := make(chan struct{})
		go func() {
			for deadline := time.Now().Add(pprofRetry); time.Now().Before(deadline); {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if ln, err := net.Listen("tcp", addr); err == nil {
					serve := servePprof(ln, log)
					<-stop
					serve()
					return
				}
			}
			log.Warn("pprof not served: the previous process still holds its address", zap.String("addr", addr))
		}()
		return func() { close(stop) }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	return servePprof(ln, log), nil
}

// servePprof serves the profiler on ln until the returned function is
// called.
func servePprof(ln net.Listener, log *zap.Logger) func() {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("pprof listening", zap.Stringer("addr", ln.Addr()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
