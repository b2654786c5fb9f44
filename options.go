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
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Hooks let the embedding application take part; nil fields do
	// nothing.
	Hooks Hooks
	// DevKey is the HMAC key used in dev mode when the config has none;
	// nil means a random one (see Server.DevKey).
	DevKey []byte
}

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
