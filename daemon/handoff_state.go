package daemon

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"
)

// NodeState is what a node hands over to its successor besides its
// sessions (SessionState): ExportState makes it on a frozen node,
// ImportState restores it on a new one. It encodes with encoding/json and
// carries no version: the image format that wraps it does.
type NodeState struct {
	// Channels are the memory broker's channels with history or
	// subscribers, sorted by name; empty with a Broker, which owns
	// positions and history itself.
	Channels []ChannelState `json:"channels,omitempty"`
	// Idempotency is the memory broker's idempotency window, oldest
	// first; empty with a Broker.
	Idempotency []IdemState `json:"idempotency,omitempty"`
	// ConnEvents is the connection-event stream's position and ring.
	ConnEvents ConnEventsState `json:"conn_events"`
	// NextChannelID is the last channel id the node gave out: the new
	// node numbers its own channels after it, so channel ids (the
	// transports' keys for a channel's frames) stay unique.
	NextChannelID uint64 `json:"next_channel_id"`
}

// ChannelState is one channel of the memory broker.
type ChannelState struct {
	Name string `json:"name"`
	// ID is the channel's key in the transports' queues (QueueEventAt), kept
	// so that frames queued before the hand-off keep theirs.
	ID uint64 `json:"id"`
	// Epoch and Last are the channel's position: the next publish gets
	// offset Last+1 in Epoch.
	Epoch string `json:"epoch"`
	Last  uint64 `json:"last"`
	// Subscribers is how many sessions were subscribed: the channel stays
	// alive on the new node, even without history, until the first of
	// them is resumed.
	Subscribers int `json:"subscribers,omitempty"`
	// History is the events kept for recovery, oldest first, with
	// consecutive offsets ending at Last.
	History []HistoryEntry `json:"history,omitempty"`
}

// HistoryEntry is one event of a channel's history.
type HistoryEntry struct {
	Offset uint64 `json:"offset"`
	// At is the publish time, Unix nanoseconds, which the history TTL
	// counts from.
	At int64 `json:"at"`
	// Event is the event's JSON message as clients receive it (without
	// the transport's framing; the new node frames it again).
	Event json.RawMessage `json:"event"`
}

// IdemState is one idempotency key of the memory broker: a publish to
// Channel with Key within the window is a duplicate of the event at
// (Offset, Epoch), published at At (Unix nanoseconds).
type IdemState struct {
	Channel string `json:"channel"`
	Key     string `json:"key"`
	Offset  uint64 `json:"offset"`
	Epoch   string `json:"epoch"`
	At      int64  `json:"at"`
}

// ConnEventsState is the connection-event stream's position: an app
// following it (StreamConnEvents with after and epoch) goes on across
// the hand-off without a reset.
type ConnEventsState struct {
	Epoch string `json:"epoch"`
	// Next is the sequence number the next event gets.
	Next uint64 `json:"next"`
	// Lines are the events still kept, oldest first, ending at Next-1.
	Lines []json.RawMessage `json:"lines,omitempty"`
}

// ExportState returns the node's state for a successor. Call it while the
// node is frozen (Freeze), so that it matches the sessions' Export; it
// takes each channel's lock in turn and blocks nothing for long.
func (n *Node) ExportState() NodeState {
	st := NodeState{NextChannelID: n.channelIDs.Load(), ConnEvents: n.connEvents.export()}
	if n.opts.Broker != nil {
		return st
	}
	n.hub.each(func(ch *channel) {
		ch.mu.Lock()
		if !ch.dead && (len(ch.subs) > 0 || ch.hist.len() > 0 || ch.pinned) {
			st.Channels = append(st.Channels, n.exportChannel(ch))
		}
		ch.mu.Unlock()
	})
	slices.SortFunc(st.Channels, func(a, b ChannelState) int { return strings.Compare(a.Name, b.Name) })
	st.Idempotency = n.idem.export()
	return st
}

// exportChannel is ch's state. Called with ch.mu held.
func (n *Node) exportChannel(ch *channel) ChannelState {
	cs := ChannelState{Name: ch.name, ID: ch.id, Epoch: ch.epoch, Last: ch.last, Subscribers: len(ch.subs)}
	if ch.pinned && cs.Subscribers == 0 {
		cs.Subscribers = 1 // imported, not resumed yet: still expected
	}
	if ch.hist.len() > 0 {
		cs.History = make([]HistoryEntry, ch.hist.len())
	}
	for i := range ch.hist.len() {
		e := ch.hist.at(i)
		ev := n.unframe(e.frame)
		if len(ev) < 2 || ev[0] != '{' || ev[len(ev)-1] != '}' {
			// Options.Frame is not one unframe can undo: hand over the
			// position without the history rather than an image that
			// does not encode. Clients resuming from it get recovered:false.
			n.log.Warn("hand-off: a channel's history cannot be exported", zap.String("channel", ch.name))
			cs.History = nil
			break
		}
		cs.History[i] = HistoryEntry{Offset: e.offset, At: e.at, Event: ev}
	}
	return cs
}

// ImportState restores a predecessor's state (ExportState) on a new node,
// before Resume and before any Connect or Publish. Channels come back with
// the same epoch, offset and history (within this node's HistorySize and
// HistoryMaxBytes), so the next publish continues the sequence and clients
// that reconnect later still recover; the idempotency window and the
// connection-event stream's position come back too. A node with a Broker
// takes only the latter: the broker owns the rest. It returns an error
// wrapping ErrBadState, having changed nothing, when a channel exists
// already or a channel's state is inconsistent.
func (n *Node) ImportState(st NodeState) error {
	if n.opts.Broker != nil && (len(st.Channels) > 0 || len(st.Idempotency) > 0) {
		n.log.Warn("hand-off: the previous process kept channels in memory, this one uses a broker: their positions start over",
			zap.Int("channels", len(st.Channels)))
		st.Channels, st.Idempotency = nil, nil
	}
	if err := n.checkImport(st); err != nil {
		return err
	}
	n.raiseChannelIDs(st)
	for _, cs := range st.Channels {
		n.importChannel(cs)
	}
	if n.histBytes.Load() > n.set().HistoryMaxBytes {
		n.evictHistory()
	}
	for _, k := range st.Idempotency {
		n.idem.put(idemScope(k.Channel, k.Key), idemEntry{offset: k.Offset, epoch: k.Epoch, at: k.At}, n.set().IdempotencyMaxKeys)
	}
	n.connEvents.restore(st.ConnEvents)
	return nil
}

// checkImport refuses a state ImportState cannot restore.
func (n *Node) checkImport(st NodeState) error {
	seen := make(map[string]bool, len(st.Channels))
	ids := make(map[uint64]bool, len(st.Channels))
	for _, cs := range st.Channels {
		if cs.ID != 0 && ids[cs.ID] {
			return fmt.Errorf("%w: channel id %d twice", ErrBadState, cs.ID)
		}
		ids[cs.ID] = true
		if err := checkName(cs.Name, n.set().MaxChannelLength); err != nil {
			return fmt.Errorf("%w: %w", ErrBadState, err)
		}
		switch {
		case seen[cs.Name] || n.hub.lookup(cs.Name) != nil:
			return fmt.Errorf("%w: channel %q exists already", ErrBadState, cs.Name)
		case cs.Epoch == "":
			return fmt.Errorf("%w: channel %q has no epoch", ErrBadState, cs.Name)
		case !consecutive(cs.History, cs.Last):
			return fmt.Errorf("%w: the history of channel %q does not end at its offset %d", ErrBadState, cs.Name, cs.Last)
		}
		seen[cs.Name] = true
	}
	if c := st.ConnEvents; c.Epoch != "" && uint64(len(c.Lines)) >= max(c.Next, 1) {
		return fmt.Errorf("%w: %d connection events before sequence %d", ErrBadState, len(c.Lines), c.Next)
	}
	return nil
}

// consecutive reports whether h's offsets follow each other up to last.
func consecutive(h []HistoryEntry, last uint64) bool {
	if uint64(len(h)) > last {
		return false
	}
	for i, e := range h {
		if e.Offset != last-uint64(len(h)-1-i) {
			return false
		}
	}
	return true
}

// raiseChannelIDs makes the node's channel ids start after st's.
func (n *Node) raiseChannelIDs(st NodeState) {
	top := st.NextChannelID
	for _, cs := range st.Channels {
		top = max(top, cs.ID)
	}
	for {
		cur := n.channelIDs.Load()
		if cur >= top || n.channelIDs.CompareAndSwap(cur, top) {
			return
		}
	}
}

// importChannel adds a channel as its predecessor left it.
func (n *Node) importChannel(cs ChannelState) {
	ch := &channel{name: cs.Name, opts: n.channelOptions(cs.Name), id: cs.ID, epoch: cs.Epoch, last: cs.Last,
		pinned: cs.Subscribers > 0}
	if ch.id == 0 {
		ch.id = n.channelIDs.Add(1) // the transports' key must not be 0
	}
	ch.mu.Lock()
	if size := ch.opts.HistorySize; size > 0 {
		for _, e := range cs.History {
			n.histBytes.Add(int64(ch.keepEntry(entry{frame: n.opts.Frame(e.Event), offset: e.Offset, at: e.At}, size)))
		}
		if ch.hist.len() > 0 {
			n.lru.touch(ch.hist.r)
		}
	}
	ch.mu.Unlock()
	n.hub.insert(ch)
}

// export returns the window's live keys, oldest first.
func (d *idempotency) export() []IdemState {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []IdemState
	for _, k := range d.order[d.head:] {
		e, ok := d.seen[k.key]
		if !ok || e.at != k.at {
			continue // published again later: that entry comes then
		}
		channel, key, _ := strings.Cut(k.key, "\x00") // channel names have no NUL
		out = append(out, IdemState{Channel: channel, Key: key, Offset: e.offset, Epoch: e.epoch, At: e.at})
	}
	return out
}

// export returns the stream's position and the lines it keeps.
func (c *connEvents) export() ConnEventsState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ConnEventsState{Epoch: c.epoch, Next: c.next}
	for seq := c.oldest(); seq < c.next; seq++ {
		l := c.lines[seq%uint64(len(c.lines))].appendLine(nil, seq, c.epoch)
		st.Lines = append(st.Lines, l[:len(l)-1])
	}
	return st
}

// restore continues a predecessor's stream: same epoch, same numbering,
// the lines this ring has room for. An empty state (no epoch) changes
// nothing.
func (c *connEvents) restore(st ConnEventsState) {
	if st.Epoch == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch, c.next = st.Epoch, max(st.Next, 1)
	clear(c.lines)
	lines := st.Lines
	if len(lines) > len(c.lines) {
		lines = lines[len(lines)-len(c.lines):]
	}
	c.first = c.next - uint64(len(lines))
	for i, l := range lines {
		c.lines[(c.first+uint64(i))%uint64(len(c.lines))] = connLine{typ: connRaw, channel: string(l)}
	}
	close(c.changed)
	c.changed, c.waited = make(chan struct{}), false
}
