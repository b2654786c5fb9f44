package daemon

import (
	"context"
	"net"
	"slices"
	"strings"
	"time"
)

// Close codes of the control plane (PROTOCOL.md §6).
const (
	// CloseDisconnected: the server ended the session (session changed,
	// logged out elsewhere); the client may reconnect with backoff.
	CloseDisconnected = 4004
	// CloseRevoked: the user or token was banned or revoked; the client
	// must not reconnect with the same token.
	CloseRevoked = 4403
)

// Selectors name which sessions a control operation acts on.
const (
	ByUser         = "user"          // every connection of a user (the token's sub)
	ByConnectionID = "connection_id" // one connection
	ByChannel      = "channel"       // every subscriber of a channel
	ByTokenID      = "jti"           // every connection authenticated with that token
)

// ValidSelector reports whether by is one of the selectors.
func ValidSelector(by string) bool {
	switch by {
	case ByUser, ByConnectionID, ByChannel, ByTokenID:
		return true
	}
	return false
}

// matches reports whether the session is selected. Called with s.ctl held.
func (s *Session) matches(by, value string) bool {
	switch by {
	case ByUser:
		return s.subject == value
	case ByConnectionID:
		return s.id == value
	case ByChannel:
		return s.subs.find(value) != nil
	case ByTokenID:
		return value != "" && s.jti == value
	}
	return false
}

// each runs f on every live session selected by (by, value), under the
// session's lock, and counts those for which f returned true. The control
// plane's operations are built on it: they come from API goroutines, and
// the session's lock is what serialises them with its transport.
func (n *Node) each(by, value string, f func(*Session, int64) bool) int {
	count := 0
	for _, r := range n.reg.snapshot() {
		s := r.s
		s.ctl.Lock()
		if !s.closed && !s.closing && (by == "" || s.matches(by, value)) && f(s, r.since) {
			count++
		}
		s.ctl.Unlock()
	}
	return count
}

// change is each for an operation that changes sessions: on a node frozen
// for a hand-off it waits for Unfreeze, and does nothing once the node is
// retired (the sessions are another process's now).
func (n *Node) change(by, value string, f func(*Session, int64) bool) int {
	if n.gate.enter(context.Background()) != nil {
		return 0
	}
	defer n.gate.leave()
	return n.each(by, value, f)
}

// Disconnect closes the selected connections with a WebSocket close code
// and reason, after what is already queued for them, and returns how many.
// Use CloseDisconnected for "reconnect allowed", CloseRevoked for bans.
// Safe from any goroutine.
func (n *Node) Disconnect(by, value string, code int, reason string) int {
	return n.change(by, value, func(s *Session, _ int64) bool {
		s.closing = true
		s.t.Close(code, reason)
		return true
	})
}

// SubscribeServer subscribes the selected connections to channel on the
// server's authority: the token's channels claim and the Authorize hook are
// not consulted (the backend decided), the other limits are. Each client
// gets a "subscribed" frame with the channel's position, as if it had
// asked; a connection that was subscribed already gets it again. It returns
// how many connections are now subscribed; a refusal (too many
// subscriptions, broker down) reaches its client as "unsubscribed" with the
// error's code. Safe from any goroutine.
func (n *Node) SubscribeServer(by, value, channel string) int {
	return n.change(by, value, func(s *Session, _ int64) bool {
		err := s.subscribe(command{Action: "subscribe", Channel: channel, server: true})
		if err != nil {
			sendReply(s, reply{Type: "unsubscribed", Channel: channel, Code: errorCode(err), Message: err.Error()})
		}
		return err == nil
	})
}

// UnsubscribeServer takes the selected connections out of channel; each
// gets an "unsubscribed" frame with code "server" and reason. It returns
// how many were subscribed. Safe from any goroutine.
func (n *Node) UnsubscribeServer(by, value, channel, reason string) int {
	return n.change(by, value, func(s *Session, _ int64) bool {
		sub := s.subs.take(channel)
		if sub == nil {
			return false
		}
		n.hub.remove(sub)
		n.subs.Add(-1)
		n.logConn(s, connEvent{typ: connUnsubscribe, channel: channel})
		n.notePresence(s, channel, false)
		sendReply(s, reply{Type: "unsubscribed", Channel: channel, Code: "server", Message: reason})
		return true
	})
}

// Connection is one live connection as the control plane lists it.
type Connection struct {
	ID   string `json:"connection_id"`
	User string `json:"user"`
	// TokenID is the token's "jti", for a revocation of that token alone.
	TokenID  string    `json:"token_id,omitempty"`
	Remote   string    `json:"remote_addr,omitempty"`
	Channels []string  `json:"channels"`
	Since    time.Time `json:"connected_at"`
	// AgeSeconds is how long the connection has been open.
	AgeSeconds float64 `json:"age_seconds"`
	// QueueBytes are the bytes queued for the client and not yet written,
	// when the transport tells (QueueDepth).
	QueueBytes int `json:"queue_bytes"`
}

// QueueDepth is a Transport that tells how much it has queued; the epoll
// transport's *netpoll.Conn implements it.
type QueueDepth interface {
	QueuedBytes() int
}

// remoteAddr is a Transport that knows its peer's address.
type remoteAddr interface {
	RemoteAddr() net.Addr
}

// Connections lists the live connections, of user when it is not "" and
// subscribed to channel when it is not "", sorted by id. Safe from any
// goroutine.
func (n *Node) Connections(user, channel string) []Connection {
	now := n.opts.Now()
	var out []Connection
	n.each("", "", func(s *Session, registered int64) bool {
		since := time.Unix(0, registered)
		if (user != "" && s.subject != user) || (channel != "" && s.subs.find(channel) == nil) {
			return false
		}
		c := Connection{ID: s.id, User: s.subject, TokenID: s.jti, Since: since.UTC(), AgeSeconds: now.Sub(since).Seconds(),
			Channels: make([]string, 0, s.subs.len())}
		for sub := range s.subs.all() {
			c.Channels = append(c.Channels, sub.ch.name)
		}
		slices.Sort(c.Channels)
		if ra, ok := s.t.(remoteAddr); ok {
			if a := ra.RemoteAddr(); a != nil {
				c.Remote = a.String()
			}
		}
		if q, ok := s.t.(QueueDepth); ok {
			c.QueueBytes = q.QueuedBytes()
		}
		out = append(out, c)
		return true
	})
	slices.SortFunc(out, func(a, b Connection) int { return strings.Compare(a.ID, b.ID) })
	return out
}
