package daemon

import (
	"time"

	"go.uber.org/zap"
)

// Options configure a Node. Zero values mean the documented defaults.
type Options struct {
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Frame wraps an encoded JSON message into the bytes a Transport sends
	// (a WebSocket text frame in production). It is called once per event,
	// not per subscriber. It must return a new slice: msg is a reused
	// scratch buffer, while the result sits in queues until written.
	// nil means a copy of the JSON itself.
	Frame func(msg []byte) []byte
	// Compress returns the compressed form of a frame Frame built, valid
	// for every transport that reports Deflate() true (see
	// DeflateTransport), or nil to send it as it is. The core calls it at
	// most once per event and channel (not per subscriber), lazily, when
	// the first subscriber that negotiated compression gets the event, and
	// only for channels whose ChannelOptions.CompressMin the event reaches.
	// It is called with the channel's lock held and must not block; it
	// returns a new slice. nil means no compression.
	Compress func(frame []byte) []byte
	// MaxSubscriptions per session. Default 128.
	MaxSubscriptions int
	// CommandsPerSecond a session may send (burst: twice that); over it a
	// command is answered with error "rate_limited". Default 50.
	CommandsPerSecond int
	// MaxChannelLength in bytes. Default 255.
	MaxChannelLength int
	// MaxPayloadBytes caps an event's payload. Default 1 MiB.
	MaxPayloadBytes int
	// PingInterval is announced to clients in the welcome message.
	PingInterval time.Duration
	// Protocol is announced in the welcome message. Default "fanout.v1".
	Protocol string
	// Auth verifies refresh tokens; nil refuses every refresh.
	Auth Authenticator
	// ExpiryWarning is how long before its token expires a connection gets
	// the "expiring" frame. Default 60s.
	ExpiryWarning time.Duration
	// PublicChannels are channel patterns every connection may read,
	// anonymous ones included, on top of its token's.
	PublicChannels []string
	// DefaultChannel are the settings of a channel no class matches. The
	// zero value keeps no history and disconnects slow consumers.
	DefaultChannel ChannelOptions
	// ChannelClasses override DefaultChannel by channel-name prefix.
	ChannelClasses []ChannelClass
	// HistoryMaxBytes caps the memory held by all channels' history; over
	// it, the history of the channel published to least recently is
	// dropped first. Default 64 MiB.
	HistoryMaxBytes int64
	// IdempotencyWindow is how long a publish's idempotency key is
	// remembered. Default 5m.
	IdempotencyWindow time.Duration
	// IdempotencyMaxKeys caps the keys remembered; over it the oldest are
	// forgotten before their window ends. Default 100,000.
	IdempotencyMaxKeys int
	// ConnEventsBuffer is how many connection events StreamConnEvents can
	// replay to an app that reconnects. Default 10,000.
	ConnEventsBuffer int
	// Authorize, when set, is asked once the token's patterns allow a
	// subscription; false refuses it with "forbidden". It runs on the
	// session's transport goroutine, so it must answer quickly.
	Authorize func(user, channel string) bool
	// OnConnect and OnDisconnect, when set, observe sessions (not the
	// daemon's internal ones) as they open and close, on the transport's
	// goroutine: they must not block.
	OnConnect    func(connID, user string)
	OnDisconnect func(connID, user string, code int)
	// Broker shares channels with other nodes; nil keeps them in this
	// node's memory.
	Broker Broker
	// BrokerTimeout bounds each broker call. Default 2s.
	BrokerTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Frame == nil {
		o.Frame = func(m []byte) []byte { return append([]byte(nil), m...) }
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = 128
	}
	if o.CommandsPerSecond <= 0 {
		o.CommandsPerSecond = 50
	}
	if o.MaxChannelLength <= 0 {
		o.MaxChannelLength = 255
	}
	if o.MaxPayloadBytes <= 0 {
		o.MaxPayloadBytes = 1 << 20
	}
	if o.HistoryMaxBytes <= 0 {
		o.HistoryMaxBytes = 64 << 20
	}
	if o.IdempotencyWindow <= 0 {
		o.IdempotencyWindow = 5 * time.Minute
	}
	if o.IdempotencyMaxKeys <= 0 {
		o.IdempotencyMaxKeys = 100_000
	}
	if o.BrokerTimeout <= 0 {
		o.BrokerTimeout = defaultBrokerTimeout
	}
	if o.ConnEventsBuffer <= 0 {
		o.ConnEventsBuffer = 10_000
	}
	if o.ExpiryWarning <= 0 {
		o.ExpiryWarning = time.Minute
	}
	if o.Protocol == "" {
		o.Protocol = "fanout.v1"
	}
	return o
}
