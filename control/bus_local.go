package control

import "context"

// LocalBus is the Bus of a daemon without a broker: Send hands the message
// to this node's Receive, through a bounded queue so that a sender never
// runs the receiver's code.
type LocalBus struct {
	q chan []byte
}

var _ Bus = (*LocalBus)(nil)

// localQueue bounds the messages waiting for the receiver.
const localQueue = 1024

// NewLocalBus returns a LocalBus.
func NewLocalBus() *LocalBus { return &LocalBus{q: make(chan []byte, localQueue)} }

// Send queues msg, waiting for room until ctx ends.
func (b *LocalBus) Send(ctx context.Context, msg []byte) error {
	select {
	case b.q <- msg:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Receive hands queued messages to f until ctx ends.
func (b *LocalBus) Receive(ctx context.Context, f func([]byte)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-b.q:
			f(m)
		}
	}
}
