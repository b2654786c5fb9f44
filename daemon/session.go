package daemon

import (
	"sync"

	"go.uber.org/zap"
)

// closeUnsupportedData is RFC 6455's 1003: the protocol is JSON text only.
const closeUnsupportedData = 1003

// Session is one client connection as the core sees it. Its transport calls
// Message and Closed one at a time, so its subscriptions need no lock.
//
// A node holds one per connection, so the struct is kept to 144 bytes (an
// allocator size class): the command rate limit is one number, the token
// expiry and its warning share a word (tokenExpiry), the flags another
// with the registry index, the subscriptions are a linked list (subList),
// the rare info claim is behind a pointer, what only the registry needs
// (when it connected) is the registry's, and the transport takes each
// event's publish time as an argument rather than through a second
// interface value kept here.
type Session struct {
	node    *Node
	t       Transport
	id      string
	subject string
	// info is the token's "info" claim (Identity.Info), nil without one:
	// behind a pointer, since few tokens carry one and a slice header
	// would cost every session 16 bytes more (infoClaim reads it).
	info     *[]byte
	patterns []string
	// subs is a linked list, not a map or a slice: most connections hold
	// a handful of channels, and a list costs the session one pointer.
	subs subList
	jti  string // the token's id (Identity.TokenID), for revocations
	// ctl serialises the transport's calls (Message, Subscribe, Closed)
	// with the control plane's (control.go), which come from other
	// goroutines. Uncontended except while an operator acts.
	ctl sync.Mutex
	// tat is the command rate limit's state (allowCommand): UnixNano by
	// which the session's commands so far are paid for.
	tat int64
	// expiry is the token's expiry and whether the warning was sent:
	// written by refresh, read by the expiry sweeper.
	expiry tokenExpiry
	// reg is the session's index in its registry shard, guarded by the
	// shard's lock (registry.go).
	reg      int32
	deflate  bool // t negotiated compression (DeflateTransport)
	internal bool // Identity.Internal
	closed   bool
	// closing: the control plane closed it already (a close waits for
	// the peer's answer); guarded by ctl.
	closing bool
}

// boxInfo is how a session keeps an info claim: nil when there is none.
func boxInfo(info []byte) *[]byte {
	if len(info) == 0 {
		return nil
	}
	return &info
}

// expiresAt is the token's expiry, UnixNano, 0 for none.
func (s *Session) expiresAt() int64 {
	at, _ := s.expiry.load()
	return at
}

// infoClaim is the token's "info" claim, nil without one.
func (s *Session) infoClaim() []byte {
	if s.info == nil {
		return nil
	}
	return *s.info
}

// ID is the connection id announced in the welcome message.
func (s *Session) ID() string { return s.id }

// Message handles one client message. Binary messages are refused with
// close code 1003; anything else gets a reply, an error frame for a bad
// command, and the connection stays up.
func (s *Session) Message(binary bool, payload []byte) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if s.closed {
		return
	}
	if binary {
		s.t.Close(closeUnsupportedData, "binary messages are not supported")
		return
	}
	if !s.allowCommand() {
		sendReply(s, errorReply(nil, ErrRateLimited))
		return
	}
	cmd, err := decodeCommand(payload)
	if err != nil {
		sendReply(s, errorReply(cmd.ID, err))
		return
	}
	s.handle(cmd)
}

func (s *Session) handle(cmd command) {
	var err error
	switch cmd.Action {
	case "subscribe":
		err = s.subscribe(cmd)
	case "unsubscribe":
		err = s.unsubscribe(cmd)
	case "ping":
		sendReply(s, reply{Type: "pong", ID: cmd.ID})
	case "refresh":
		err = s.refresh(cmd)
	default:
		err = ErrUnknownAction
	}
	if err != nil {
		sendReply(s, errorReply(cmd.ID, err))
	}
}

func (s *Session) subscribe(cmd command) error {
	name, err := cmd.channel(s.node.set().MaxChannelLength)
	if err != nil {
		return err
	}
	if !cmd.server && !s.allowed(name) {
		return ErrForbidden
	}
	sub, held := s.subs.lookup(name)
	if sub != nil {
		// Already subscribed: events are flowing, so there is nothing to
		// recover; the reply carries the current position.
		ch := sub.ch
		ch.mu.Lock()
		sendReply(s, subscribedReply{Type: "subscribed", ID: cmd.ID, Channel: name, ProjectID: cmd.ProjectID,
			Offset: ch.last, Epoch: ch.epoch})
		ch.mu.Unlock()
		return nil
	}
	if held >= s.node.set().MaxSubscriptions {
		return ErrTooManySubscriptions
	}
	if s.node.opts.Broker != nil {
		return s.subscribeShared(cmd, name)
	}
	sub = s.node.hub.add(name, s, func(ch *channel) {
		s.node.subs.Add(1) // counted before the client can see the reply
		s.joined(cmd, ch)
		s.announce(ch, "join")
	})
	s.node.logConn(s, connEvent{typ: connSubscribe, channel: name})
	s.subs.add(sub)
	return nil
}

func (s *Session) unsubscribe(cmd command) error {
	name, err := cmd.channel(s.node.set().MaxChannelLength)
	if err != nil {
		return err
	}
	if sub := s.subs.take(name); sub != nil {
		s.node.hub.remove(sub)
		s.node.subs.Add(-1)
		s.node.logConn(s, connEvent{typ: connUnsubscribe, channel: name})
		s.node.notePresence(s, name, false)
	}
	sendReply(s, reply{Type: "unsubscribed", Channel: name, ProjectID: cmd.ProjectID, ID: cmd.ID})
	return nil
}

// Closed releases the session's subscriptions; called once by the
// transport after the connection is gone.
func (s *Session) Closed(code int) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if s.closed {
		return
	}
	s.release(true)
	s.node.logConn(s, connEvent{typ: connDisconnect, code: code})
	if f := s.node.opts.OnDisconnect; f != nil && !s.internal {
		f(s.id, s.subject, code)
	}
	if ce := s.node.log.Check(zap.DebugLevel, "connection closed"); ce != nil {
		ce.Write(zap.String("conn", s.id), zap.Int("code", code))
	}
}

// release forgets a session that ends here (Closed: announce, so its
// channels hear it leave and presence drops it) or moved to another
// process (Detach: quietly): registry, expiry sweep, subscriptions,
// counters. Called once, with s.ctl held.
func (s *Session) release(announce bool) {
	n := s.node
	s.closed = true
	n.reg.remove(s)
	for sub := range s.subs.all() {
		n.hub.removeSub(sub, announce) // quietly: the session did not leave, it moved
		n.subs.Add(-1)
		if announce {
			n.notePresence(s, sub.ch.name, false)
		}
	}
	s.subs = subList{}
	n.sessions.Add(-1)
}

// allowCommand takes a token from the session's bucket: CommandsPerSecond
// per second, up to a burst of twice that. The refusal is cheap (no JSON
// decoding), so a flood costs little more than reading it.
//
// The bucket is kept as one time (the generic cell rate algorithm): each
// command costs 1/CommandsPerSecond s, tat is when the commands so far
// are paid for, and a command is allowed while that is at most the
// burst's worth, less one command, ahead of now. A full bucket is a tat in
// the past, which is where a session starts. It allows what a bucket of
// float tokens refilled by elapsed time does, in 8 bytes instead of 16.
func (s *Session) allowCommand() bool {
	rate := int64(s.node.set().CommandsPerSecond)
	cost := int64(1e9) / rate
	now := s.node.opts.Now().UnixNano()
	tat := max(s.tat, now)
	if tat-now > (2*rate-1)*cost {
		return false
	}
	s.tat = tat + cost
	return true
}

// allowed reports whether the token's patterns and the Authorize hook let
// the session subscribe to name.
func (s *Session) allowed(name string) bool {
	return permits(s.patterns, name) && (s.node.opts.Authorize == nil || s.internal || s.node.opts.Authorize(s.subject, name))
}

func (s *Session) send(msg []byte) {
	s.t.Send(s.node.opts.Frame(msg))
}
