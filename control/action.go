package control

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Ops of an Action.
const (
	OpDisconnect   = "disconnect"
	OpRevoke       = "revoke"
	OpUnrevoke     = "unrevoke"
	OpSubscribe    = "subscribe"
	OpUnsubscribe  = "unsubscribe"
	OpClearHistory = "clear_history"
	// OpConnections lists every node's connections (of By=user Value,
	// on Channel, when set): read-only, answered with data.
	OpConnections = "connections"
)

// Close codes the clients see (PROTOCOL.md §6).
const (
	// CloseDisconnected is the default of a disconnect: the server ended
	// the session (it changed, the user logged out elsewhere); the client
	// may reconnect with backoff.
	CloseDisconnected = 4004
	// CloseRevoked closes the connections of a revoked user or token, and
	// is the code to use for a ban: the client must not reconnect with the
	// same token.
	CloseRevoked = 4403
)

// Action is one control action, as it travels between nodes. By and Value
// select the connections (By is "user", "connection_id", "channel" or
// "jti"); Channel is the channel of subscribe, unsubscribe and
// clear_history.
type Action struct {
	Op      string    `json:"op"`
	By      string    `json:"by,omitempty"`
	Value   string    `json:"value,omitempty"`
	Channel string    `json:"channel,omitempty"`
	Code    int       `json:"code,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Until   time.Time `json:"until,omitzero"`
}

// check validates a, filling in the default close codes.
func (a *Action) check(now time.Time, maxRevocation time.Duration) error {
	switch a.Op {
	case OpDisconnect:
		if a.Code == 0 {
			a.Code = CloseDisconnected
		}
		if a.Code < 4000 || a.Code > 4999 {
			return fmt.Errorf("%w: code must be 4000-4999 (4004: reconnect allowed, 4403: banned)", ErrBadAction)
		}
		return a.needSelector("user", "connection_id", "channel", "jti")
	case OpRevoke:
		if a.Until.IsZero() || !a.Until.After(now) {
			return fmt.Errorf("%w: a revocation needs an end in the future (until or for)", ErrBadAction)
		}
		if a.Until.Sub(now) > maxRevocation {
			return fmt.Errorf("%w: a revocation lasts at most %s", ErrBadAction, maxRevocation)
		}
		a.Code = CloseRevoked
		return a.needSelector("user", "jti")
	case OpUnrevoke:
		return a.needSelector("user", "jti")
	case OpSubscribe, OpUnsubscribe:
		if a.Channel == "" {
			return fmt.Errorf("%w: missing channel", ErrBadAction)
		}
		if a.By == "" && a.Op == OpUnsubscribe {
			a.By, a.Value = "channel", a.Channel // every subscriber
		}
		return a.needSelector("user", "connection_id")
	case OpConnections:
		if a.By != "" && a.By != "user" {
			return fmt.Errorf("%w: connections are filtered by user and channel only", ErrBadAction)
		}
		return nil
	case OpClearHistory:
		if a.Channel == "" {
			return fmt.Errorf("%w: missing channel", ErrBadAction)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown op %q", ErrBadAction, a.Op)
}

func (a *Action) needSelector(allowed ...string) error {
	if a.Op == OpUnsubscribe && a.By == "channel" && a.Value == a.Channel {
		return nil
	}
	for _, by := range allowed {
		if a.By == by && a.Value != "" {
			return nil
		}
	}
	return fmt.Errorf("%w: %s needs exactly one of %v", ErrBadAction, a.Op, allowed)
}

// revocationKey is the key of a revocation in the list and the store.
func revocationKey(by, value string) string { return by + ":" + value }

// envelope is a message on the bus.
type envelope struct {
	Kind   string  `json:"kind"` // "hello", "bye", "action", "ack", "tap"
	From   string  `json:"from"`
	ID     string  `json:"id,omitempty"` // the action's, echoed by its acks
	Action *Action `json:"action,omitempty"`
	// Applied is, in an ack, how many connections the node acted on.
	Applied int `json:"applied,omitempty"`
	// Error is, in an ack, why the node could not apply the action.
	Error string `json:"error,omitempty"`
	// Data is, in an ack, what a read-only action returns.
	Data json.RawMessage `json:"data,omitempty"`
	// Channel is, in a forwarded tap line, the event's channel.
	Channel string `json:"channel,omitempty"`
	// Taps are, in a hello, the channel patterns this node's taps follow:
	// the others forward it the events of matching channels.
	Taps []string `json:"taps,omitempty"`
	// Ask, in a hello, asks every node to answer with a hello at once: a
	// node that just started learns whom to wait for.
	Ask bool `json:"ask,omitempty"`
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
