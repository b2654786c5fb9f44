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
	// DevKey is the HMAC key used in dev mode when the config has none;
	// nil means a random one (see Server.DevKey).
	DevKey []byte
}
