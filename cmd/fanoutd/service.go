package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/systemd"
	"go.uber.org/zap"
)

// startWatchdog feeds the unit's WatchdogSec= (every, from
// Notifier.WatchdogInterval) from srv.Probe until ctx ends. With every at
// 0, the service manager asked for no watchdog, and nothing starts.
func startWatchdog(ctx context.Context, bg *sync.WaitGroup, every time.Duration, n *systemd.Notifier, srv *fanoutd.Server, log *zap.Logger) {
	if every == 0 {
		return
	}
	log.Info("watchdog on: probing the daemon every half WatchdogSec", zap.Duration("watchdog_sec", every))
	bg.Go(func() {
		_ = systemd.RunWatchdog(ctx, systemd.WatchdogOptions{
			Interval: every / 2,
			Probe:    srv.Probe,
			Ping:     n.Watchdog,
			Logger:   log,
		})
	})
}

// catchHangups keeps SIGHUP, which `systemctl reload` sends
// (ExecReload=), from killing the daemon: that is SIGHUP's default action,
// and a reload must never stop the service. Reloading the configuration
// is not implemented yet, so each SIGHUP is logged as changing nothing.
// The handler is installed before catchHangups returns, so call it before
// READY; it stays until the returned function is called, after shutdown,
// so that a reload during the drain cannot kill the daemon either.
func catchHangups(bg *sync.WaitGroup, log *zap.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	quit := make(chan struct{})
	signal.Notify(hup, syscall.SIGHUP)
	bg.Go(func() {
		for {
			select {
			case <-quit:
				return
			case <-hup:
				log.Warn("SIGHUP received: reloading the configuration is not supported yet; " +
					"nothing changed (restart the service to apply a new configuration)")
			}
		}
	})
	return func() {
		signal.Stop(hup)
		close(quit)
	}
}
