package fanoutd

import (
	"context"
	"encoding/json"
)

// Event is one event to publish in-process, as the publish API takes it.
type Event struct {
	Channel string
	Type    string
	// Payload is a JSON value; empty for none.
	Payload json.RawMessage
	// IdempotencyKey, when set, makes a repeat within idempotency.window
	// return the first publish's position instead of publishing again.
	IdempotencyKey string
}

// Position is where a published event sits in its channel.
type Position struct {
	Offset uint64
	Epoch  string
	// Duplicate reports a repeated idempotency key: nothing was published
	// and the position is the first publish's.
	Duplicate bool
}

// Publish delivers e in-process, on the same path as the publish API
// (validation, positions, history, idempotency), and returns its position.
// An invalid event's error has an Invalid() method returning true; with a
// broker, one that may have been published anyway (sent, not answered) has
// an OutcomeUnknown() method returning true: retry it with its
// IdempotencyKey.
func (s *Server) Publish(ctx context.Context, e Event) (Position, error) {
	var p Position
	_, err := s.node.PublishBatch(ctx, 1,
		func(int) (string, string, []byte, string) { return e.Channel, e.Type, e.Payload, e.IdempotencyKey },
		s.tapBatch(func(int) (string, string, []byte, string) { return e.Channel, e.Type, e.Payload, e.IdempotencyKey },
			func(_ int, offset uint64, epoch string, dup bool) {
				p = Position{Offset: offset, Epoch: epoch, Duplicate: dup}
			}))
	return p, err
}
