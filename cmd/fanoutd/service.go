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

// catchHangups reloads the configuration on SIGHUP, which `systemctl
// reload` sends (ExecReload=), and keeps SIGHUP from killing the daemon,
// its default action: a reload must never stop the service. A refused
// configuration is logged with its problems (ReloadFromSource does) and
// the daemon goes on with the one it had. The handler is installed before
// catchHangups returns, so call it before READY; it stays until the
// returned function is called, after shutdown, so that a reload during the
// drain cannot kill the daemon either.
func catchHangups(bg *sync.WaitGroup, srv *fanoutd.Server, log *zap.Logger) (stop func()) {
	return onSignal(bg, syscall.SIGHUP, func() {
		log.Info("SIGHUP received: reloading the configuration")
		_, _ = srv.ReloadFromSource() // logs what it applied or why it refused
	})
}

// onSignal runs f, one call at a time, for every sig received, from the
// moment it returns (the handler replaces sig's default action, which
// for SIGHUP and SIGUSR2 is to exit) until stop is called.
func onSignal(bg *sync.WaitGroup, sig os.Signal, f func()) (stop func()) {
	got := make(chan os.Signal, 1)
	quit := make(chan struct{})
	signal.Notify(got, sig)
	bg.Go(func() {
		for {
			select {
			case <-quit:
				return
			case <-got:
				f()
			}
		}
	})
	return func() {
		signal.Stop(got)
		close(quit)
	}
}
