package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Broker shares a node's channels with other nodes through an existing
// message broker (Redis, NATS). With a Broker, the broker owns positions
// and history: it numbers every publish atomically with storing it, and
// delivers it to every node subscribed to the channel, this one included,
// through Node.Deliver. Without one (Options.Broker nil) the node numbers
// and keeps events itself: the in-memory broker.
//
// Calls come from publishing goroutines (Publish), from transport workers
// subscribing sessions (Subscribe, History) and from the node (Unsubscribe);
// implementations must be safe for concurrent use and bound every call by
// its context.
type Broker interface {
	// Publish stores the event and broadcasts it, returning its position.
	// With a non-empty key, a repeat of the key within the idempotency
	// window returns the first position and dup. An error means the event
	// was not published.
	Publish(ctx context.Context, channel, eventType string, payload []byte, key string) (offset uint64, epoch string, dup bool, err error)
	// Subscribe makes the broker deliver channel's events to this node
	// from now on and returns the channel's position at that moment:
	// every later event has a greater offset and is delivered.
	Subscribe(ctx context.Context, channel string) (offset uint64, epoch string, err error)
	// Position returns channel's current position.
	Position(ctx context.Context, channel string) (offset uint64, epoch string, err error)
	// Unsubscribe undoes one Subscribe: deliveries of channel to this node
	// stop when every Subscribe has been undone.
	Unsubscribe(ctx context.Context, channel string) error
	// History returns channel's events after offset up to the current
	// one, oldest first, when epoch is the channel's and all of them are
	// kept; ok is false otherwise.
	History(ctx context.Context, channel string, after uint64, epoch string) (events []BrokerEvent, ok bool, err error)
}

// BrokerEvent is one event as a broker stores and delivers it.
type BrokerEvent struct {
	Offset  uint64
	Epoch   string
	Type    string
	Payload []byte
}

// ErrUnavailable: the broker did not answer or refused; the publish or
// subscribe did not happen. The publish API answers 503.
var ErrUnavailable = errors.New("broker unavailable")

// UnavailableError wraps a broker failure; Unavailable reports true, which
// the publish API maps to 503.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return fmt.Sprintf("%v: %v", ErrUnavailable, e.Err) }
func (e *UnavailableError) Unwrap() []error {
	return []error{ErrUnavailable, e.Err}
}

// Unavailable marks the error as the daemon's (503), not the caller's.
func (e *UnavailableError) Unavailable() bool { return true }

// brokerCtx bounds a broker call made on a transport worker: a worker that
// waits on a dead broker is a worker the other connections lack.
func (n *Node) brokerCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), n.opts.BrokerTimeout)
}

// defaultBrokerTimeout is Options.BrokerTimeout's default.
const defaultBrokerTimeout = 2 * time.Second
