package ipc

import "context"

// Publisher is what the API needs from the daemon core. It is implemented by
// the core's node (wired in the composition root); its methods use builtin
// types only so that neither side imports the other.
type Publisher interface {
	// CheckEvent reports whether Publish would accept the event, without
	// publishing it. The API calls it for every event of a batch before
	// publishing any, so a batch is all-or-nothing with respect to validation.
	// Called from HTTP handler goroutines, concurrently.
	CheckEvent(channel, eventType string, payload []byte) error

	// PublishBatch fans n events out, in order, as one unit: event(i)
	// returns the i-th (payload is a JSON value or nil for none, which the
	// callee does not keep; key is the idempotency key or ""). Handing the
	// whole request over at once lets the core write several events to a
	// connection in one system call. done(i, …) reports the i-th event's
	// position in its channel, and whether it was a duplicate of a publish
	// with the same key. It returns how many events were published before
	// an error. An error that has an `Invalid() bool` method returning true
	// is the publisher's fault (400); one with `Unavailable() bool`
	// returning true is a 503; one with `OutcomeUnknown() bool` returning
	// true (the event may have been published: the broker did not answer)
	// is a 504, whatever else it says; any other a 500. Called from HTTP handler
	// goroutines, concurrently.
	PublishBatch(ctx context.Context, n int, event func(i int) (channel, eventType string, payload []byte, key string),
		done func(i int, offset uint64, epoch string, duplicate bool)) (int, error)

	// Stats returns a JSON-encodable snapshot for GET /v1/stats. Called
	// concurrently.
	Stats() any
}

// Directory answers the read side of the API: channels, presence and the
// connection-event stream. Optional (Options.Directory); without it those
// routes answer 404.
type Directory interface {
	// Channels returns a JSON-encodable list of the channels with
	// subscribers or history. Called concurrently.
	Channels() any
	// Presence returns a JSON-encodable list of channel's subscribers
	// (empty, not nil, for none). Called concurrently.
	Presence(channel string) any
	// StreamConnEvents writes connection events after the position (after,
	// epoch) as NDJSON lines and follows new ones until ctx ends or the
	// daemon shuts down. A line is only valid until write returns (its
	// buffer is reused): write copies what it keeps. Called from the
	// request's goroutine.
	StreamConnEvents(ctx context.Context, after uint64, epoch string, write func(line []byte) error) error
}
