package daemon

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// command is a client message. Unknown fields are ignored so that clients
// written for later protocol revisions still work.
type command struct {
	Action    string          `json:"action"`
	Channel   string          `json:"channel"`
	ProjectID string          `json:"projectId"` // ADR-004 form of channel "project:<id>"
	ID        json.RawMessage `json:"id"`
	Token     string          `json:"token"` // refresh only; never logged
	Since     *position       `json:"since"` // subscribe only
	// server marks a subscribe made by the control plane: the backend
	// decided, so the token's channels claim is not consulted.
	server bool
}

// errNotObject answers a message that is not a JSON object with fields of
// the right types.
var errNotObject = fmt.Errorf("%w: not a JSON object with string fields", ErrBadRequest)

// maxIDBytes caps the request id echoed back in replies.
const maxIDBytes = 128

// decodeCommand parses a client message. The id, when it is usable, is
// returned even with an error so that the error reply can carry it. The
// id may point into p (decodeFast): it is valid while p is, which for a
// client's message is until Message returns, after the replies that echo
// it.
func decodeCommand(p []byte) (command, error) {
	var c command
	if !json.Valid(p) {
		return command{}, errNotObject
	}
	if ok, bad := c.decodeFast(p); bad {
		return command{}, errNotObject
	} else if !ok {
		// Into a variable of its own: &c given to encoding/json would put
		// every command on the heap, not only the rare ones decoded here.
		slow := new(command)
		if err := json.Unmarshal(p, slow); err != nil {
			return command{}, errNotObject
		}
		c = *slow
	}
	if string(c.ID) == "null" {
		c.ID = nil // "id": null is no id
	}
	if !validID(c.ID) {
		c.ID = nil
		return c, fmt.Errorf("%w: id must be a string or a number of at most %d bytes", ErrBadRequest, maxIDBytes)
	}
	if c.Action == "" {
		return c, fmt.Errorf("%w: missing action", ErrBadRequest)
	}
	return c, nil
}

// validID accepts an absent id, a string, or a number. The id is echoed
// verbatim, so a string must be UTF-8: a text frame that is not makes the
// client fail the connection.
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return true
	}
	if len(id) > maxIDBytes {
		return false
	}
	switch c := id[0]; {
	case c == '"':
		return utf8.Valid(id)
	case c == '-' || (c >= '0' && c <= '9'):
		return true
	}
	return false
}

// channel resolves the command's channel: "channel", or "projectId" for
// ADR-004 clients. Both given must agree.
func (c command) channel(maxLen int) (string, error) {
	name := c.Channel
	if c.ProjectID != "" {
		fromID := projectPrefix + c.ProjectID
		if name != "" && name != fromID {
			return "", fmt.Errorf("%w: channel and projectId disagree", ErrBadRequest)
		}
		name = fromID
	}
	if name == "" {
		return "", fmt.Errorf("%w: missing channel", ErrBadRequest)
	}
	if !validName(name, maxLen, &nameChars) {
		return "", fmt.Errorf("%w: must be 1-%d bytes of [A-Za-z0-9_-.:@/=+,~!$|]", ErrInvalidChannel, maxLen)
	}
	return name, nil
}

// reply is every server message but events. It and the welcome and
// subscribed replies encode themselves (replyencode.go); the rarer ones go
// through encoding/json.
type reply struct {
	Type      string          `json:"type"`
	ID        json.RawMessage `json:"id,omitempty"`
	Channel   string          `json:"channel,omitempty"`
	ProjectID string          `json:"projectId,omitempty"`
	Code      string          `json:"code,omitempty"`
	Message   string          `json:"message,omitempty"`
	ExpiresAt int64           `json:"expires_at,omitempty"`
}

type welcome struct {
	Type             string `json:"type"`
	ConnectionID     string `json:"connection_id"`
	User             string `json:"user"`
	Protocol         string `json:"protocol"`
	PingIntervalMS   int64  `json:"ping_interval_ms"`
	MaxSubscriptions int    `json:"max_subscriptions"`
	// ExpiresAt is the token's expiry (Unix seconds), absent without one.
	ExpiresAt int64 `json:"expires_at,omitempty"`
	// URLChannels is how many channels the connect URL named, whose
	// replies follow; absent when none (ConnectSubscriptions).
	URLChannels int `json:"url_channels,omitempty"`
}

func (n *Node) welcome(s *Session, id Identity, urlChannels int) welcome {
	return welcome{
		Type:             "welcome",
		ConnectionID:     s.id,
		User:             s.subject,
		Protocol:         n.opts.Protocol,
		PingIntervalMS:   n.opts.PingInterval.Milliseconds(),
		MaxSubscriptions: n.set().MaxSubscriptions,
		ExpiresAt:        unixSeconds(id),
		URLChannels:      urlChannels,
	}
}

func errorReply(id json.RawMessage, err error) reply {
	return reply{Type: "error", ID: id, Code: errorCode(err), Message: err.Error()}
}

// internalReply stands in for a reply that could not be encoded, which only
// plain strings and ids already parsed as JSON cannot cause.
var internalReply = []byte(`{"type":"error","code":"internal","message":"reply encoding failed"}`)

func marshalReply(v any) []byte {
	if a, ok := v.(jsonAppender); ok {
		return a.appendJSON(make([]byte, 0, 160))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return internalReply
	}
	return b
}
