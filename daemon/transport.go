package daemon

import "time"

// Transport is the connection a Session writes to. The epoll WebSocket
// transport's *netpoll.Conn implements it.
type Transport interface {
	// Send queues one encoded message (as returned by Options.Frame) and
	// never blocks. The slice is shared between subscribers and must not be
	// modified. It returns false when the message was not queued because the
	// connection is closed or closing (a slow consumer is closed by the
	// transport itself). Called from any goroutine.
	Send(msg []byte) bool
	// Queue is Send without starting the write: the message waits until
	// Flush. first reports that the queue was empty before, in which case
	// the caller must call Flush once it has queued what it has; otherwise a
	// write is already due and Flush is not needed. Publishing queues every
	// event of a batch to every subscriber, then flushes each connection
	// once, so one system call carries them all.
	Queue(msg []byte) (ok, first bool)
	// QueueEventAt is Queue for an event frame, with the channel's
	// slow-consumer policy (PolicyDisconnect, PolicyDropOldest,
	// PolicyLatest) deciding what happens when the queue is full. key
	// identifies the channel (non-zero). published is the event's publish
	// time (Unix nanoseconds on Options.Now's clock), for a transport that
	// measures the time from the publish to the write that sends it; the
	// core already read the clock for the event's history, so it costs
	// nothing. dropped is how many queued event frames were dropped or
	// replaced to make room. Called with the channel's lock held, from any
	// goroutine.
	QueueEventAt(msg []byte, key uint64, policy int, published int64) (ok, first bool, dropped int)
	// Flush starts writing what Queue queued. Called from any goroutine.
	Flush()
	// Close closes the connection with a WebSocket close code after the
	// messages already queued. Called from any goroutine; idempotent.
	Close(code int, reason string)
}

// MissedTransport is a Transport that merges missed notices: the core
// sends the notice for a drop-oldest drop with QueueMissed when its
// transport has it (the epoll transport's *netpoll.Conn does), and with
// Queue otherwise. While an earlier notice still waits in the queue, the
// transport rebuilds that one with build(its count + count) instead of
// queueing another, so a stalled client costs one notice, not one per
// dropped event. Called with the channel's lock held, right after the
// QueueEventAt that dropped; build must not call back into the transport.
type MissedTransport interface {
	QueueMissed(count int, build func(total int) []byte) (ok, first bool)
}

// DeflateTransport is a Transport that may be sent the frames
// Options.Compress makes; the epoll transport's *netpoll.Conn implements
// it. The core asks once, when the session is created.
type DeflateTransport interface {
	// Deflate reports whether the connection negotiated compression. It
	// must not change over the connection's life.
	Deflate() bool
}

// Identity is who a connection authenticated as.
type Identity struct {
	// Subject is the token's "sub".
	Subject string
	// TokenID is the token's "jti", "" without one: a revocation can name
	// one token rather than every token of the user.
	TokenID string
	// Channels are the patterns the connection may subscribe to: an exact
	// name, "prefix*", or "*"; "{sub}" stands for Subject.
	Channels []string
	// Expires is when the connection must end unless it refreshes its
	// token (the token's exp plus the verifier's leeway); zero for never.
	Expires time.Time
	// Internal marks the daemon's own sessions (the watchdog's probe):
	// they are left out of the connection-event stream.
	Internal bool
	// Info is what presence shows of the user (the token's "info" claim),
	// JSON; nil for none.
	Info []byte
}

// Authenticator verifies the token of a live "refresh" command;
// *jwtauth.Verifier implements it. Called from the session's transport
// goroutine.
type Authenticator interface {
	Verify(token string) (Identity, error)
}
