package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// SessionState is what a session hands over: who it is, what it may read,
// when its token expires, and where each of its subscriptions stands.
// Session.Export makes it on a frozen node, Node.Resume restores it on a
// new one. It encodes with encoding/json.
type SessionState struct {
	// ID is the connection id the client was welcomed with; it stays.
	ID      string          `json:"id"`
	Subject string          `json:"subject"`
	Info    json.RawMessage `json:"info,omitempty"`
	// Internal marks the daemon's own sessions (Identity.Internal).
	Internal bool `json:"internal,omitempty"`
	// Patterns are the channels the session may subscribe to, as the old
	// node resolved them ("{sub}" expanded, public channels included).
	Patterns []string `json:"patterns,omitempty"`
	TokenID  string   `json:"token_id,omitempty"`
	// Expires is the token's expiry, Unix nanoseconds, 0 for none; Warned
	// that the "expiring" frame for it was sent.
	Expires int64 `json:"expires,omitempty"`
	Warned  bool  `json:"warned,omitempty"`
	// ConnectedAt is when the client connected, Unix nanoseconds (the
	// control plane's connected_at survives the hand-off).
	ConnectedAt int64 `json:"connected_at,omitempty"`
	// Channels are the subscriptions, in the order they were made.
	Channels []SubState `json:"channels,omitempty"`
}

// SubState is one subscription and the position (Offset in Epoch) of the
// last event queued to the session on it: the new node sends what
// follows, exactly once.
type SubState struct {
	Channel string `json:"channel"`
	Offset  uint64 `json:"offset"`
	Epoch   string `json:"epoch"`
}

// Export returns the session's state for a successor. Call it while the
// node is frozen (Freeze): then every subscriber of a channel has been
// queued the same events, up to the channel's position, which is what
// each subscription records.
func (s *Session) Export() SessionState {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	st := SessionState{ID: s.id, Subject: s.subject, Internal: s.internal, Patterns: slices.Clone(s.patterns),
		TokenID: s.jti}
	st.Expires, st.Warned = s.expiry.load()
	if info := s.infoClaim(); info != nil && json.Valid(info) { // the image must encode
		st.Info = json.RawMessage(bytes.Clone(info))
	}
	if since, ok := s.node.reg.since(s); ok {
		st.ConnectedAt = since.UnixNano()
	}
	for sub := range s.subs.all() {
		ch := sub.ch
		ch.mu.Lock()
		st.Channels = append(st.Channels, SubState{Channel: ch.name, Offset: ch.last, Epoch: ch.epoch})
		ch.mu.Unlock()
	}
	return st
}

// Detach forgets the session on the old node once the hand-off committed:
// its connection is the new process's now. Nothing is sent and nothing
// reported: no OnDisconnect, no connection event, no "leave" frame, no
// presence removal at the broker (the new node records its own); channels
// left without subscribers are dropped (with a broker, unsubscribed from
// it) as on a close. The transport's later Closed and Message calls do
// nothing. Detach also retires the node (Retire): it stays
// frozen for good.
func (s *Session) Detach() {
	n := s.node
	n.Retire()
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if s.closed {
		return
	}
	s.release(false)
}

// Resume creates, on a new node, the session a predecessor exported,
// bound to t: no welcome and no reply is sent, OnConnect is not called and
// no connection event is logged (an app following the stream sees the
// connection go on), and the id stays. The session is counted, listed for
// the control plane and swept for its token's expiry, and re-subscribed to
// its channels. With the memory broker (after ImportState) each channel
// continues where it was and nothing is sent, unless the channel moved on
// (its missed events are replayed from history) or lost its position (a
// "missed" frame naming the channel: the client refetches). With a Broker
// each channel is linked as a subscribe links it, and the events published
// after the session's position are sent once, in order, from the broker's
// history; when the broker cannot prove continuity (new epoch, trimmed
// history) the session gets the "missed" frame instead. A subscription the
// broker refuses ends with an "unsubscribed" frame (code "unavailable")
// and the session goes on without it. With a PresenceBroker, each
// subscription is queued for it, so Run must be running.
//
// It returns an error wrapping ErrBadState, and no session, for a state
// without an id, with an invalid channel name or a channel twice;
// ErrHandedOff on a retired node. Call it once per exported session, from
// any goroutine. Open the publish API only once every session is resumed:
// with the memory broker an event published before a session's Resume
// reaches it from history, or, on a channel without history, as a
// "missed" frame.
func (n *Node) Resume(t Transport, st SessionState) (*Session, error) {
	if err := n.checkResume(st); err != nil {
		return nil, err
	}
	// Copies of the decoded strings: the image's memory is freed whole
	// once nothing live points into it.
	s := &Session{node: n, t: t, id: strings.Clone(st.ID), subject: strings.Clone(st.Subject),
		info: boxInfo(bytes.Clone(st.Info)), internal: st.Internal, patterns: clonedStrings(st.Patterns), jti: strings.Clone(st.TokenID)}
	if dt, ok := t.(DeflateTransport); ok {
		s.deflate = dt.Deflate()
	}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	n.sessions.Add(1)
	since := n.opts.Now()
	if st.ConnectedAt != 0 {
		since = time.Unix(0, st.ConnectedAt)
	}
	n.reg.add(s, since)
	if st.Expires != 0 {
		s.expiry.set(st.Expires, st.Warned)
	}
	for _, sub := range st.Channels {
		s.resubscribe(sub)
	}
	return s, nil
}

// clonedStrings copies a slice of strings and each string in it.
func clonedStrings(ss []string) []string {
	out := make([]string, len(ss))
	for i, x := range ss {
		out[i] = strings.Clone(x)
	}
	return out
}

// checkResume refuses a state Resume cannot use.
func (n *Node) checkResume(st SessionState) error {
	if n.gate.retiredNow() {
		return ErrHandedOff
	}
	if st.ID == "" {
		return fmt.Errorf("%w: a session without an id", ErrBadState)
	}
	for i, sub := range st.Channels {
		if err := checkName(sub.Channel, n.set().MaxChannelLength); err != nil {
			return fmt.Errorf("%w: %w", ErrBadState, err)
		}
		if slices.ContainsFunc(st.Channels[:i], func(o SubState) bool { return o.Channel == sub.Channel }) {
			return fmt.Errorf("%w: channel %q twice", ErrBadState, sub.Channel)
		}
	}
	return nil
}

// resubscribe restores one subscription. Called with s.ctl held.
func (s *Session) resubscribe(sub SubState) {
	n := s.node
	pos := position{Offset: sub.Offset, Epoch: sub.Epoch}
	if n.opts.Broker == nil {
		ch := n.hub.lock(sub.Channel)
		ch.pinned = false
		s.subs.add(ch.addLocked(s))
		n.subs.Add(1)
		s.continueFrom(ch, pos)
		ch.mu.Unlock()
		return
	}
	ch, err := n.lockLinked(sub.Channel)
	if err != nil {
		n.log.Warn("hand-off: a resumed subscription was refused by the broker",
			zap.String("conn", s.id), zap.String("channel", sub.Channel), zap.Error(err))
		sendReply(s, reply{Type: "unsubscribed", Channel: sub.Channel, Code: errorCode(err), Message: err.Error()})
		return
	}
	if pos.Epoch == ch.epoch && pos.Offset > ch.last {
		// Delivered there, not here yet: catch the channel up first, or
		// its next deliveries would repeat them to this session.
		fl := n.flushLists.Get().(*flushList)
		n.catchUp(ch, fl)
		fl.flush()
		n.flushLists.Put(fl)
	}
	s.subs.add(ch.addLocked(s))
	n.subs.Add(1)
	s.continueFrom(ch, pos)
	n.drainPending(ch)
	ch.mu.Unlock()
	n.notePresence(s, sub.Channel, true)
}

// continueFrom queues what ch has after pos, from its history or the
// broker's, or, when that is not all there, the "missed" frame: never a
// partial replay, never a silent gap. Called with ch.mu held.
func (s *Session) continueFrom(ch *channel, pos position) {
	if pos.Epoch == ch.epoch && pos.Offset == ch.last {
		return
	}
	from, ok := 0, false
	if pos.Epoch == ch.epoch {
		from, ok = ch.hist.since(pos.Offset, ch.last)
	}
	var fetched [][]byte
	if !ok && ch.shared {
		fetched, ok = s.node.cachedReplay(ch, pos)
		from = ch.hist.len()
	}
	if !ok {
		s.node.gaps.Add(1)
		sendReply(s, reply{Type: "missed", Channel: ch.name,
			Message: "events of this channel were lost while the server was upgraded: refetch its state"})
		return
	}
	s.replay(ch, from, fetched)
}

// replayCache is a broker replay made for a resumed session: the frames
// of the events after after, through through, in epoch. The sessions of
// one hand-off resume from the same few positions per channel, so one
// broker round trip serves them all instead of one each (18,000 of them
// would take seconds under the channel lock).
type replayCache struct {
	epoch          string
	after, through uint64
	frames         [][]byte
}

// cachedReplay is brokerReplay through ch's replayCache. Called with ch.mu
// held.
func (n *Node) cachedReplay(ch *channel, pos position) ([][]byte, bool) {
	if c := ch.syncState().replay; c != nil && c.epoch == pos.Epoch && c.epoch == ch.epoch && c.through == ch.last &&
		pos.Offset >= c.after && pos.Offset <= c.through {
		return c.frames[pos.Offset-c.after:], true
	}
	frames, ok := n.brokerReplay(ch, &pos)
	if ok {
		ch.sync.replay = &replayCache{epoch: pos.Epoch, after: pos.Offset, through: ch.last, frames: frames}
	}
	return frames, ok
}

// ExportSessions is every live session's Export, for a hand-off: call it
// while the node is frozen. The caller matches them to its transport's
// connections by id (a session whose connection is not handed over, an
// SSE stream for instance, is just not resumed).
func (n *Node) ExportSessions() []SessionState {
	regs := n.reg.snapshot()
	out := make([]SessionState, 0, len(regs))
	for _, r := range regs {
		out = append(out, r.s.Export())
	}
	return out
}

// DetachAll detaches every live session (Detach) and retires the node:
// the old node's last step once a hand-off committed.
func (n *Node) DetachAll() {
	n.Retire()
	for _, r := range n.reg.snapshot() {
		r.s.Detach()
	}
}
