package ipc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// APIError is a non-2xx answer of the daemon, returned by Client methods.
// Published is how many events of the request were published before the
// failure (0 when validation rejected the batch); Events lists the rejected
// events of a 400 "invalid event" answer.
type APIError struct {
	Status    int
	Message   string
	Published int
	Events    []InvalidEvent
	// Outcome is "unknown" when the event after the Published ones may or
	// may not have been published (504): retry it with its idempotency key.
	Outcome string
}

// Error reads like "ipc: 503 Service Unavailable: hub closed (2 published)".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ipc: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
	if len(e.Events) > 0 {
		first := e.Events[0]
		fmt.Fprintf(&b, ": event %d: %s", first.Index, first.Reason)
		if more := len(e.Events) - 1; more > 0 {
			fmt.Fprintf(&b, " (and %d more)", more)
		}
	}
	if e.Published > 0 {
		fmt.Fprintf(&b, " (%d published)", e.Published)
	}
	return b.String()
}

// Unavailable reports whether the daemon asked to retry later (503), so a
// caller can tell a transient refusal from a bad request.
func (e *APIError) Unavailable() bool { return e.Status == http.StatusServiceUnavailable }

// OutcomeUnknown reports whether the failed event may have been published
// anyway (504, "outcome":"unknown"): retry it with the same idempotency key,
// which answers duplicate:true if the first try went out.
func (e *APIError) OutcomeUnknown() bool { return e.Outcome == "unknown" }

// newAPIError reads any of the API's error bodies; a body that is not one
// (a proxy's HTML page, say) becomes the message, truncated.
func newAPIError(status int, body []byte) *APIError {
	var wire struct {
		Error     string         `json:"error"`
		Detail    string         `json:"detail"`
		Published int            `json:"published"`
		Events    []InvalidEvent `json:"events"`
		Outcome   string         `json:"outcome"`
	}
	e := &APIError{Status: status}
	if json.Unmarshal(body, &wire) != nil || wire.Error == "" {
		e.Message = truncate(strings.TrimSpace(string(body)), 256)
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
		return e
	}
	e.Message, e.Published, e.Events, e.Outcome = wire.Error, wire.Published, wire.Events, wire.Outcome
	if wire.Detail != "" {
		e.Message += ": " + wire.Detail
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
