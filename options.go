package fanoutd

import (
	"net"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"go.uber.org/zap"
)

// Options configure a Server. Config is validated by New.
type Options struct {
	// Config mirrors the configuration file (config.Load); config.Default()
	// plus an HMAC secret, or Dev, is a working start.
	Config config.Config
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Listener, when set, is used for WebSockets instead of binding
	// Config.Listen.
	Listener net.Listener
	// SocketListener, when set, serves the publish API instead of binding
	// Config.Socket.
	SocketListener net.Listener
	// MetricsListener, when set, serves metrics.listen instead of binding
	// it (an upgrade passes it on).
	MetricsListener net.Listener
	// FDStore, when set, is the service manager's descriptor store: when
	// Run's context ends, the Server hands every connection there for the
	// next start instead of draining, if handoff.enabled and the store
	// holds them all (see Upgrade for the other route).
	FDStore *FDStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Hooks let the embedding application take part; nil fields do
	// nothing.
	Hooks Hooks
	// DevKey is the HMAC key used in dev mode when the config has none;
	// nil means a random one (see Server.DevKey).
	DevKey []byte
	// LoadConfig re-reads the configuration from where it came from (the
	// file, the environment and the flags, for the fanoutd binary): a
	// reload (Server.ReloadFromSource, SIGHUP, POST /v1/reload) applies
	// what it returns. nil: the publish API has no reload route, and the
	// application calls Server.Reload with a configuration of its own.
	LoadConfig func() (config.Config, error)
	// Level is Logger's level, which a reload sets from log_level; nil: a
	// change of log_level is reported as needing a restart.
	Level *zap.AtomicLevel
	// Notifier is told about reloads and the drain (a service manager's
	// sd_notify); nil tells no one.
	Notifier Notifier
	// ReadinessChecks are asked by /readyz after the daemon's own.
	ReadinessChecks []ReadinessCheck
	// Version is the build's version, shown by fanoutd_build_info and the
	// status page; "" means "dev".
	Version string
	// HandedOff, when set, is called once a hand-off committed, before
	// this Server lets go of its connections and Run returns: the fanoutd
	// binary lowers its own CPU priority there, so that the new process,
	// serving its first events, gets the cores first.
	HandedOff func()
}

// Notifier tells a service manager what the daemon is doing.
// *systemd.Notifier implements it. Its methods are called from the
// goroutine that reloads or shuts down; errors are logged, never fatal.
type Notifier interface {
	// Reloading is sent when a reload starts (RELOADING=1 with
	// MONOTONIC_USEC, as systemd 253's Type=notify-reload wants).
	Reloading() error
	// Ready is sent when a reload ended, applied or refused.
	Ready() error
	// Stopping is sent when the drain starts (STOPPING=1).
	Stopping() error
	// ExtendTimeout asks for d more before the manager gives up on the
	// stop in progress (EXTEND_TIMEOUT_USEC); sent while draining.
	ExtendTimeout(d time.Duration) error
}

// noNotifier is the Notifier of a daemon with no service manager.
type noNotifier struct{}

func (noNotifier) Reloading() error                  { return nil }
func (noNotifier) Ready() error                      { return nil }
func (noNotifier) Stopping() error                   { return nil }
func (noNotifier) ExtendTimeout(time.Duration) error { return nil }

// Hooks are the embedding application's say in what clients do. Each runs
// on a transport worker, one call at a time per connection, and must not
// block: hand slow work to a goroutine of your own.
type Hooks struct {
	// AuthorizeSubscribe is asked after the token's channels claim (or the
	// public channels) allowed a subscription; false refuses it with the
	// error "forbidden".
	AuthorizeSubscribe func(user, channel string) bool
	// OnConnect sees every authenticated connection once its session
	// exists; user is "" for an anonymous one.
	OnConnect func(connectionID, user string)
	// OnDisconnect sees it go, with the close code (1006 when the peer
	// vanished).
	OnDisconnect func(connectionID, user string, code int)
}
