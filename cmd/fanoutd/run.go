package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/systemd"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// runDaemon is the composition root's outer shell: logger, signals, the dev
// banner. SIGINT and SIGTERM shut down gracefully.
func runDaemon(ctx context.Context, cfg config.Config, pprofAddr string, out io.Writer) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if pprofAddr != "" {
		stopPprof, err := startPprof(pprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	srv, err := fanoutd.New(fanoutd.Options{Config: cfg, Logger: log})
	if err != nil {
		return err
	}
	if cfg.Dev {
		if err := printDevBanner(out, cfg, srv); err != nil {
			return err
		}
	}
	log.Info("fanoutd started", zap.Stringer("listen", srv.Addr()), zap.String("socket", cfg.Socket),
		zap.String("ws_path", cfg.WSPath))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	notify := systemd.NewNotifier(os.Getenv)
	if err := notify.Ready(); err != nil { // New has bound every listener
		log.Warn("sd_notify READY failed", zap.Error(err))
	}
	go func() {
		<-ctx.Done()
		_ = notify.Stopping()
	}()
	err = srv.Run(ctx)
	log.Info("fanoutd stopped")
	return err
}

func newLogger(cfg config.Config) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("log_level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if cfg.Dev {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	return zc.Build()
}

// printDevBanner prints what a newcomer needs to see an event arrive.
func printDevBanner(out io.Writer, cfg config.Config, srv *fanoutd.Server) error {
	key := srv.DevKey()
	if key == nil {
		fmt.Fprintln(out, "dev mode: using the configured HMAC secret; mint tokens with `fanoutd token`")
		return nil
	}
	tok, err := jwtauth.Mint(key, "dev", []string{"*"}, 24*time.Hour, time.Now())
	if err != nil {
		return err
	}
	url := fmt.Sprintf("ws://%s%s", srv.Addr(), cfg.WSPath)
	fmt.Fprintf(out, `
fanoutd is running in DEV mode (random HMAC secret; not for production)

  WebSocket:  %s
  dev token:  %s
              (sub "dev", every channel, valid 24h)
  connect:    %s?token=%s

  subscribe:  {"action":"subscribe","channel":"project:demo","id":"1"}
  publish:    curl --unix-socket %s -H 'Content-Type: application/json' \
                -d '{"channel":"project:demo","type":"story.status.changed","payload":{"storyId":"6-5","status":"done"}}' \
                http://fanoutd/v1/publish

`, url, tok, url, tok, cfg.Socket)
	return nil
}
