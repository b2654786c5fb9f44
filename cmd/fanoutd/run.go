package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/systemd"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// runDaemon is the composition root's outer shell: logger, listeners
// passed by socket activation, a hand-off to take over, signals, the
// service manager's notifications and watchdog, the dev banner. SIGINT and
// SIGTERM drain and shut down gracefully (under systemd with a descriptor
// store, SIGTERM hands every connection to the next start instead);
// SIGHUP reloads the configuration from load (the same file, environment
// and flags as at start) and never kills; SIGUSR2 upgrades to the binary
// on disk, keeping every connection (`fanoutd upgrade`).
func runDaemon(ctx context.Context, cfg config.Config, load func() (config.Config, error), pprofAddr string, out io.Writer) error {
	log, level, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	gogc := setGCPercent(os.Getenv)
	for _, err := range config.UnknownEnvironment(nil) {
		log.Warn("environment variable ignored", zap.Error(err))
	}
	if pprofAddr != "" {
		stopPprof, err := startPprof(pprofAddr, log, os.Getenv(handoff.EnvFD) != "")
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	notify := systemd.NewNotifier(os.Getenv)
	watchdog, err := notify.WatchdogInterval() // before binding: a malformed unit fails fast
	if err != nil {
		return err
	}
	exe, _ := os.Executable() // now: an upgrade replaces the file, and then /proc/self/exe reads "(deleted)"
	inh, err := inherit(ctx, os.Getenv)
	if err != nil {
		return err
	}
	srv, err := newServer(fanoutd.Options{Config: cfg, Logger: log, Level: level, LoadConfig: load, Notifier: notify,
		Version: currentBuild().Version, FDStore: fdStore(os.Getenv), HandedOff: yieldCPU}, inh)
	if err != nil {
		inh.refuse(err) // an upgrade's old process says why, and serves on
		return err
	}
	if err := inh.takeOver(ctx, srv, os.Getenv, log.Named("handoff")); err != nil {
		_ = srv.Shutdown(ctx)
		return err
	}
	if cfg.Dev {
		if err := printDevBanner(out, cfg, srv); err != nil {
			return err
		}
	}
	log.Info("fanoutd started", zap.Stringer("listen", srv.Addr()), zap.String("socket", cfg.Socket),
		zap.String("ws_path", cfg.WSPath), zap.String("gogc", gogc))
	var bg sync.WaitGroup // every goroutine started here, waited for last
	defer bg.Wait()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	defer catchHangups(&bg, srv, log)()
	defer catchUpgrades(&bg, srv, exe, log.Named("handoff"))()
	if err := notify.Ready(); err != nil { // New has bound every listener
		log.Warn("sd_notify READY failed", zap.Error(err))
	}
	// After READY: the service manager ignores (or, worse, misreads) a
	// watchdog ping from a service that has not said it is ready.
	startWatchdog(ctx, &bg, watchdog, notify, srv, log.Named("watchdog"))
	startMemTrim(ctx, &bg, os.Getenv, log.Named("memtrim"))
	err = srv.Run(ctx) // its drain tells the manager STOPPING=1, then EXTEND_TIMEOUT_USEC
	log.Info("fanoutd stopped")
	return err
}

// The service manager's notifier tells the daemon's reloads and drain.
var _ fanoutd.Notifier = (*systemd.Notifier)(nil)

// newServer builds the daemon on the listeners the service manager passed
// (socket activation), binding from the configuration whatever it did not
// pass.
func newServer(o fanoutd.Options, inh *inheritance) (*fanoutd.Server, error) {
	lns, err := systemd.Listeners(os.Getenv, handoff.IsHandoffName)
	if err != nil {
		return nil, err
	}
	ws, pub, err := sortActivated(lns)
	if err != nil {
		return nil, err
	}
	logActivated(o.Logger, o.Config, ws, pub)
	o.Listener, o.SocketListener = ws, pub
	if err := inh.applyListeners(&o, o.Config.Socket); err != nil {
		return nil, err
	}
	return fanoutd.New(o)
}

// newLogger builds the process's logger, and the level a reload sets.
func newLogger(cfg config.Config) (*zap.Logger, *zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, nil, fmt.Errorf("log_level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if cfg.Dev {
		zc = zap.NewDevelopmentConfig()
	}
	level := zap.NewAtomicLevelAt(lvl)
	zc.Level = level
	log, err := zc.Build()
	return log, &level, err
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
