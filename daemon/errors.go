package daemon

import "errors"

// Sentinel errors. Publish and CheckEvent wrap the first four in an
// *InputError; the client protocol reports each with its error code.
var (
	// ErrInvalidChannel: a channel name that is empty, too long, or has a
	// character outside the allowed set (PROTOCOL.md).
	ErrInvalidChannel = errors.New("invalid channel name")
	// ErrReservedChannel: a publish to a channel under ReservedPrefix,
	// which only the daemon itself writes (PublishReserved).
	ErrReservedChannel = errors.New(`channel is reserved: names under "` + ReservedPrefix + `" belong to the daemon`)
	// ErrInvalidType: an event type that is empty, too long or malformed.
	ErrInvalidType = errors.New("invalid event type")
	// ErrReservedType: an event type that collides with a control message.
	ErrReservedType = errors.New("event type is reserved")
	// ErrInvalidPayload: a payload that is not JSON, or is too large.
	ErrInvalidPayload = errors.New("invalid payload")
	// ErrForbidden: the token does not allow the channel.
	ErrForbidden = errors.New("channel not allowed by token")
	// ErrTooManySubscriptions: the connection is at its subscription limit.
	ErrTooManySubscriptions = errors.New("too many subscriptions")
	// ErrBadRequest: a client message that is not a JSON command object.
	ErrBadRequest = errors.New("malformed command")
	// ErrRateLimited: the connection sent commands faster than
	// Options.CommandsPerSecond allows.
	ErrRateLimited = errors.New("too many commands: slow down")
	// ErrUnknownAction: a command with an action the server does not know.
	ErrUnknownAction = errors.New("unknown action")
	// ErrUnauthorized: a refresh whose token is invalid, expired, for
	// another user, or expires before the current one.
	ErrUnauthorized = errors.New("refresh refused")
	// ErrBadPositions: positions to resume from (a connect URL's
	// last_event_id, an SSE Last-Event-ID) that the daemon did not write.
	ErrBadPositions = errors.New(`malformed positions: want "channel offset epoch" triples separated by spaces`)
	// ErrTooManyChannels: a connect URL naming more channels than a
	// session may hold (Options.MaxSubscriptions).
	ErrTooManyChannels = errors.New("too many channels in the connect URL")
)

// InputError marks an error as the caller's fault (HTTP 400 on the publish
// API). It wraps one of the sentinels above.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Invalid reports that the input, not the daemon, is at fault.
func (e *InputError) Invalid() bool { return true }

// errorCode is the machine-readable code of an error frame.
func errorCode(err error) string {
	switch {
	case errors.Is(err, ErrInvalidChannel):
		return "invalid_channel"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrTooManySubscriptions):
		return "too_many_subscriptions"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrUnknownAction):
		return "unknown_action"
	case errors.Is(err, ErrBadRequest):
		return "bad_request"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "internal"
}

// Hand-off errors (handoff.go).
var (
	// ErrHandedOff: the node was retired after handing its connections
	// to another process (Session.Detach, Node.Retire); publishes and
	// control-plane calls that waited on Freeze end with it.
	ErrHandedOff = errors.New("node handed off to another process")
	// ErrBadState: ImportState or Resume was given a state it cannot use
	// (a channel that exists already, history that does not end at the
	// channel's offset, an empty id, an invalid channel name).
	ErrBadState = errors.New("invalid hand-off state")
)
