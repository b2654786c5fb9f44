package control

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Node is the daemon core as the control plane acts on it. The composition
// root adapts *daemon.Node to it. Every method is called from the plane's
// goroutines (the action worker, HTTP request goroutines), never from a
// transport's, and must be safe for concurrent use. by is one of "user",
// "connection_id", "channel" or "jti"; each method returns how many
// connections of this node it acted on.
type Node interface {
	// Disconnect closes the selected connections with code and reason.
	Disconnect(by, value string, code int, reason string) int
	// SubscribeServer subscribes the selected connections to channel,
	// without consulting their token; each client gets "subscribed".
	SubscribeServer(by, value, channel string) int
	// UnsubscribeServer takes the selected connections out of channel;
	// each client gets "unsubscribed" with reason.
	UnsubscribeServer(by, value, channel, reason string) int
	// Connections lists this node's connections (of user, on channel,
	// when not ""), JSON-encodable.
	Connections(user, channel string) any
	// History reads channel's history: after (since, epoch) when hasSince,
	// else the last limit events (limit <= 0: all). An error with
	// Invalid() true is the caller's (400), Unavailable() true the
	// broker's (503).
	History(ctx context.Context, channel string, since uint64, epoch string, hasSince bool, limit int) (any, error)
	// ClearHistory forgets channel's history.
	ClearHistory(ctx context.Context, channel string) error
	// CheckChannel refuses a channel name no client could subscribe to:
	// Do answers such an action 400 instead of sending it to every node,
	// each of which would refuse it alone.
	CheckChannel(channel string) error
}

// Bus carries control messages between the nodes that share a broker. The
// Redis and NATS brokers provide one (their Control method); without a
// broker the plane uses LocalBus, this node alone.
type Bus interface {
	// Send broadcasts msg to every node's Receive, this node's included.
	// Called from HTTP request goroutines and from Run.
	Send(ctx context.Context, msg []byte) error
	// Receive calls f with every message sent by any node, from one
	// goroutine, until ctx ends, then returns. Called once, by Run; f must
	// not block for long (the plane queues actions to its own worker).
	Receive(ctx context.Context, f func(msg []byte)) error
}

// Store keeps revocations where the broker keeps data, so that they
// survive a daemon's restart. Optional: without one, a restarted daemon
// knows only the revocations made after it started.
type Store interface {
	// PutRevocation keeps key ("user:<sub>" or "jti:<id>") until until,
	// after which the store may forget it. Called from HTTP goroutines.
	PutRevocation(ctx context.Context, key string, until time.Time) error
	// Revocations returns the kept revocations; expired ones may be among
	// them (the plane ignores them). Called by Run at start.
	Revocations(ctx context.Context) (map[string]time.Time, error)
}

// Options configure a Plane. The zero value of each optional field is a
// documented default, applied once by New.
type Options struct {
	// Node is the core the plane acts on. Required.
	Node Node
	// Bus reaches the other nodes; nil means LocalBus (this node only).
	Bus Bus
	// Store keeps revocations across restarts; nil keeps them in memory.
	Store Store
	// NodeID names this node in answers; default a random id.
	NodeID string
	// Timeout is how long an action waits for every node's answer; default
	// 2 s. Nodes that did not answer are named in the answer.
	Timeout time.Duration
	// HelloInterval is how often the node announces itself on the bus, so
	// that the others know whom to wait for; default 1 s. A node unheard
	// of for three intervals is no longer waited for.
	HelloInterval time.Duration
	// MaxBodyBytes caps a request body; default 64 KiB.
	MaxBodyBytes int64
	// TapBuffer is how many lines a tap may fall behind before lines are
	// dropped for it; default 1024.
	TapBuffer int
	// MaxTaps bounds the taps open at once; default 16.
	MaxTaps int
	// MaxRevocation bounds how long a revocation may last; default 1 year.
	MaxRevocation time.Duration
	// Logger is named "control"; nil means no logs.
	Logger *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Bus == nil {
		o.Bus = NewLocalBus()
	}
	if o.NodeID == "" {
		o.NodeID = randomID()
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.HelloInterval <= 0 {
		o.HelloInterval = time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.TapBuffer <= 0 {
		o.TapBuffer = 1024
	}
	if o.MaxTaps <= 0 {
		o.MaxTaps = 16
	}
	if o.MaxRevocation <= 0 {
		o.MaxRevocation = 365 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	o.Logger = o.Logger.Named("control")
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
