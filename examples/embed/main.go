// Command embed is a Go web application that runs fanoutd inside its own
// process instead of beside it. The application owns everything the daemon
// would otherwise set up: the WebSocket listener, the logger, the HMAC
// secret that its login code would sign tokens with, and the events, which
// it publishes in-process (no Unix socket) once a second on channel
// "clock". Its own HTTP server serves a page that subscribes, and /stats.
//
//	go run ./examples/embed
//	# open the printed page, or connect to the printed WebSocket URL with the token
//
// Ctrl-C shuts both servers down: every WebSocket gets close code 1001.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"go.uber.org/zap"
)

func main() {
	wsAddr := flag.String("ws", "127.0.0.1:8090", "address of the WebSocket listener")
	httpAddr := flag.String("http", "127.0.0.1:8091", "address of the application's own HTTP server")
	flag.Parse()
	log, err := zap.NewDevelopment()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := listenAndRun(ctx, *wsAddr, *httpAddr, log); err != nil {
		log.Error("embed example failed", zap.Error(err))
		os.Exit(1)
	}
}

func listenAndRun(ctx context.Context, wsAddr, httpAddr string, log *zap.Logger) error {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	a := app{Secret: hex.EncodeToString(secret), Every: time.Second, Log: log, Out: os.Stdout}
	var err error
	if a.WS, err = net.Listen("tcp", wsAddr); err != nil {
		return err
	}
	if a.HTTP, err = net.Listen("tcp", httpAddr); err != nil {
		_ = a.WS.Close()
		return err
	}
	return a.run(ctx)
}

// app is the embedding application: what it owns, passed in so that a
// test can run it on its own listeners.
type app struct {
	WS, HTTP net.Listener // fanoutd's WebSockets; the application's own HTTP
	Secret   string       // the HMAC key of the application's tokens, ≥ 32 bytes
	Every    time.Duration
	Log      *zap.Logger
	Out      io.Writer // where the token and URLs are printed
}

// run serves until ctx ends, then shuts both servers down. fanoutd.Run
// owns the WebSocket listener from here on and closes it.
func (a app) run(ctx context.Context) error {
	cfg := config.Default()
	cfg.Socket = ""                // publishing is in-process: no Unix socket
	cfg.Auth.HMACSecret = a.Secret // the same key the application signs tokens with
	srv, err := fanoutd.New(fanoutd.Options{Config: cfg, Logger: a.Log.Named("fanoutd"), Listener: a.WS})
	if err != nil {
		_, _ = a.WS.Close(), a.HTTP.Close()
		return err
	}
	tok, err := jwtauth.Mint([]byte(a.Secret), "demo", []string{"clock"}, time.Hour, time.Now())
	if err != nil {
		_ = a.HTTP.Close()
		return errors.Join(err, srv.Shutdown(context.Background()))
	}
	wsURL := "ws://" + srv.Addr().String() + cfg.WSPath
	fmt.Fprintf(a.Out, "page:      http://%s/\nWebSocket: %s\ntoken:     %s\n", a.HTTP.Addr(), wsURL, tok)

	web := &http.Server{Handler: a.routes(srv, wsURL, tok), ReadHeaderTimeout: 5 * time.Second}
	webDone := make(chan error, 1)
	go func() { webDone <- web.Serve(a.HTTP) }()
	tickCtx, stopTick := context.WithCancel(ctx)
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		a.tick(tickCtx, srv)
	}()

	err = srv.Run(ctx) // returns once ctx ended (or a listener failed) and every WebSocket was closed
	stopTick()
	<-tickDone
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(err, web.Shutdown(sctx))
	if werr := <-webDone; !errors.Is(werr, http.ErrServerClosed) {
		err = errors.Join(err, werr)
	}
	return err
}

// tick publishes the time on "clock" every a.Every, in-process: the same
// path as the publish API (validation, fan-out), without a socket.
func (a app) tick(ctx context.Context, srv *fanoutd.Server) {
	t := time.NewTicker(a.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			payload := fmt.Appendf(nil, `{"now":%q}`, now.UTC().Format(time.RFC3339))
			if _, err := srv.Publish(ctx, fanoutd.Event{Channel: "clock", Type: "tick", Payload: payload}); err != nil && ctx.Err() == nil {
				a.Log.Warn("publish failed", zap.Error(err))
			}
		}
	}
}
