package redisbroker

import "errors"

// ErrOutcomeUnknown: a publish was sent to Redis and no answer came (a
// timeout, a broken connection): the event may or may not be stored and
// delivered. It is never sent again on its own, since it could then be
// stored twice; the application retries it with an idempotency key.
var ErrOutcomeUnknown = errors.New("outcome unknown: Redis may or may not have published the event")

// OutcomeUnknownError wraps the failure of a publish whose outcome is
// unknown; OutcomeUnknown reports true, which the publish API maps to 504
// with "outcome":"unknown".
type OutcomeUnknownError struct{ Err error }

func (e *OutcomeUnknownError) Error() string {
	return "redis publish: " + ErrOutcomeUnknown.Error() + ": " + e.Err.Error()
}

func (e *OutcomeUnknownError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.Err} }

// OutcomeUnknown marks the publish as possibly done.
func (e *OutcomeUnknownError) OutcomeUnknown() bool { return true }
