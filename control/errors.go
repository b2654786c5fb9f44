package control

import "errors"

// Sentinel errors, returned by Plane.Do and answered by the HTTP routes.
var (
	// ErrBadAction: an action with an unknown op, no or two selectors, a
	// close code outside 4000–4999, or a revocation without an end. 400.
	ErrBadAction = errors.New("invalid control action")
	// ErrStore: the revocation could not be kept by the broker; nothing
	// was applied. 503.
	ErrStore = errors.New("revocation store unavailable")
	// ErrBus: the action could not be sent to the other nodes. 503.
	ErrBus = errors.New("control bus unavailable")
	// ErrTooManyTaps: Options.MaxTaps taps are open already. 503.
	ErrTooManyTaps = errors.New("too many taps")
)
