package systemd

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// WatchdogOptions configure RunWatchdog. Interval, Probe and Ping are
// required.
type WatchdogOptions struct {
	// Interval is the time from one probe to the next. systemd advises
	// notifying at half of WatchdogSec, so that one late ping is not
	// fatal: pass Notifier.WatchdogInterval() / 2.
	Interval time.Duration
	// Probe proves that the daemon still does its work (an event goes
	// through the hub, the transport's event loop answers), not merely
	// that a goroutine runs. It is called from RunWatchdog's goroutine,
	// one call at a time, with a context that ends after Interval / 2: a
	// probe that hangs counts as failed.
	Probe func(context.Context) error
	// Ping tells the manager that the daemon is alive (Notifier.Watchdog).
	// It is called only right after Probe returned nil.
	Ping func() error
	// Logger reports failed probes and pings; nil means no logs.
	Logger *zap.Logger
}

// RunWatchdog probes at once and then every Interval until ctx ends, and
// pings after each probe that passed. It returns nil when ctx ends, or
// ErrInvalidOptions at once.
//
// Why a probe and not a ticker: a ticker goes on pinging while every
// worker is stuck, which is exactly when the manager should step in. Here
// a daemon whose probes fail or hang stops pinging, and after WatchdogSec
// the manager kills it (SIGABRT: Go prints every goroutine's stack to the
// journal) and Restart=on-failure starts a fresh one.
func RunWatchdog(ctx context.Context, o WatchdogOptions) error {
	if o.Interval <= 0 || o.Probe == nil || o.Ping == nil {
		return ErrInvalidOptions
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	failing := false
	for {
		failing = o.tick(ctx, failing)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tick runs one probe and pings if it passed. failing tells whether the
// previous probe failed, so that recovery is logged once; the result is
// the new value.
func (o WatchdogOptions) tick(ctx context.Context, failing bool) bool {
	pctx, cancel := context.WithTimeout(ctx, o.Interval/2)
	err := o.Probe(pctx)
	cancel()
	if ctx.Err() != nil {
		return failing // shutting down: neither a failure nor a reason to ping
	}
	if err != nil {
		o.Logger.Error("watchdog probe failed; not notifying the service manager", zap.Error(err))
		return true
	}
	if failing {
		o.Logger.Info("watchdog probe passes again")
	}
	if err := o.Ping(); err != nil {
		o.Logger.Warn("watchdog notification failed", zap.Error(err))
	}
	return false
}
