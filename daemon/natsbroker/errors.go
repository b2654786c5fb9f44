package natsbroker

import (
	"errors"
	"fmt"
)

// ErrContention: the channel's next offset was taken by other nodes on
// every attempt for contentionBudget timeouts. Nothing was stored; the caller may
// retry. Publishes of one node never contend with each other (they are
// queued per channel), so this takes several nodes hammering one channel.
var ErrContention = errors.New("natsbroker: other nodes kept taking the channel's next offset")

// ErrNotConnected: the link to NATS is down, so nothing was sent.
var ErrNotConnected = errors.New("natsbroker: not connected to NATS")

// OutcomeUnknownError: the publish reached the connection but no answer
// came back in time (the server may have stored it, or not). Retrying
// with the same idempotency key is safe: JetStream's duplicate window
// answers with the first position if it was stored.
type OutcomeUnknownError struct{ Err error }

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("natsbroker: publish sent, outcome unknown: %v", e.Err)
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// OutcomeUnknown reports true: the publish API answers 504 with
// "outcome":"unknown" instead of 503 (which promises nothing was stored).
func (e *OutcomeUnknownError) OutcomeUnknown() bool { return true }

// apiError is a JetStream error answer to a publish.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("nats: %s (%d/%d)", e.Description, e.Code, e.ErrCode)
}
