// Command embed is a Go web application that runs fanoutd inside its own
// process instead of beside it. The application owns everything the daemon
// would otherwise set up: the WebSocket listener, the logger, the HMAC
// secret that its login code would sign tokens with, and the events, which
// it publishes in-process (no Unix socket) once a second on channel
// "clock". Its own HTTP server serves a page that subscribes, and /stats.
//
//	go run ./examples/embed             # free ports; or --ws 127.0.0.1:8090 --http 127.0.0.1:8091
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain is the command with its flags, output and exit code, so that a
// test runs it. A failure is one line on stderr: a busy port is a user's
// everyday mistake, not a bug worth a stack trace.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wsAddr := fs.String("ws", "127.0.0.1:0", "address of the WebSocket listener (port 0: any free port; the URL is printed)")
	httpAddr := fs.String("http", "127.0.0.1:0", "address of the application's own HTTP server (port 0: any free port)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := zap.NewDevelopment(zap.AddStacktrace(zap.DPanicLevel))
	if err != nil {
		fmt.Fprintln(stderr, "embed:", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	if err := listenAndRun(ctx, *wsAddr, *httpAddr, log, stdout); err != nil {
		fmt.Fprintln(stderr, "embed:", err)
		return 1
	}
	return 0
}

func listenAndRun(ctx context.Context, wsAddr, httpAddr string, log *zap.Logger, out io.Writer) error {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	a := app{Secret: hex.EncodeToString(secret), Every: time.Second, Log: log, Out: out}
	var err error
	if a.WS, err = net.Listen("tcp", wsAddr); err != nil {
		return fmt.Errorf("--ws %s: %w (choose another address, or port 0 for any free one)", wsAddr, err)
	}
	if a.HTTP, err = net.Listen("tcp", httpAddr); err != nil {
		_ = a.WS.Close()
		return fmt.Errorf("--http %s: %w (choose another address, or port 0 for any free one)", httpAddr, err)
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
