package daemon

import (
	"context"
	"encoding/json"
	"fmt"
)

// HistoryPage is what a channel's history holds, as the control plane's
// history route reads it: the channel's current position (where a client
// that rendered these events resumes from, with "since") and the events.
type HistoryPage struct {
	Channel string `json:"channel"`
	Offset  uint64 `json:"offset"`
	Epoch   string `json:"epoch"`
	// Complete is false when the events after the asked position are not
	// all kept any more (or it was of another epoch): Events then starts
	// where the history does.
	Complete bool `json:"complete"`
	// Events are the frames clients received, oldest first.
	Events []json.RawMessage `json:"events"`
}

// HistoryClearer is a Broker that can forget a channel's history; the
// Redis and NATS brokers implement it.
type HistoryClearer interface {
	// ClearHistory drops the channel's stored events, keeping its
	// position. Called from an API goroutine.
	ClearHistory(ctx context.Context, channel string) error
}

// History reads channel's history: with since, the events after it (at
// most limit); without, the last limit events. limit <= 0 means all kept.
// With a broker the broker's history is read. Safe from any goroutine.
func (n *Node) History(ctx context.Context, channel string, since *Position, limit int) (HistoryPage, error) {
	if err := checkName(channel, n.set().MaxChannelLength); err != nil {
		return HistoryPage{}, err
	}
	if n.opts.Broker != nil {
		return n.brokerHistory(ctx, channel, since, limit)
	}
	page := HistoryPage{Channel: channel, Complete: true, Events: []json.RawMessage{}}
	ch := n.hub.lookup(channel)
	if ch == nil {
		page.Complete = since == nil || since.Offset == 0
		return page, nil
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	n.trimExpired(ch)
	page.Offset, page.Epoch = ch.last, ch.epoch
	from := 0
	if since != nil {
		f, ok := ch.hist.since(since.Offset, ch.last)
		if ok && since.Epoch == ch.epoch {
			from = f
		} else {
			page.Complete = false
		}
	} else if limit > 0 {
		from = max(0, ch.hist.len()-limit)
	}
	for i := from; i < ch.hist.len() && (limit <= 0 || len(page.Events) < limit); i++ {
		page.Events = append(page.Events, n.unframe(ch.hist.at(i).frame))
	}
	return page, nil
}

// brokerHistory is History from the broker's store.
func (n *Node) brokerHistory(ctx context.Context, channel string, since *Position, limit int) (HistoryPage, error) {
	b := n.opts.Broker
	offset, epoch, err := b.Position(ctx, channel)
	if err != nil {
		return HistoryPage{}, &UnavailableError{err}
	}
	page := HistoryPage{Channel: channel, Offset: offset, Epoch: epoch, Complete: true, Events: []json.RawMessage{}}
	after := uint64(0)
	switch {
	case since != nil && since.Epoch == epoch && since.Offset <= offset:
		after = since.Offset
	case since != nil:
		page.Complete = false
	}
	if since == nil {
		after = lastN(offset, limit, n.channelOptions(channel).HistorySize)
	}
	events, ok, err := b.History(ctx, channel, after, epoch)
	if err != nil {
		return HistoryPage{}, &UnavailableError{err}
	}
	if !ok && since != nil {
		// Not all kept: fall back to what the channel keeps at most.
		page.Complete = false
		events, _, err = b.History(ctx, channel, lastN(offset, 0, n.channelOptions(channel).HistorySize), epoch)
		if err != nil {
			return HistoryPage{}, &UnavailableError{err}
		}
	}
	for _, e := range events {
		if limit > 0 && len(page.Events) >= limit {
			break
		}
		page.Events = append(page.Events, eventJSON(channel, e))
	}
	return page, nil
}

// lastN is the offset after which the last min(limit, size) events lie
// (limit <= 0: size).
func lastN(offset uint64, limit, size int) uint64 {
	k := size
	if limit > 0 && limit < k {
		k = limit
	}
	if uint64(k) >= offset {
		return 0
	}
	return offset - uint64(k)
}

// ClearHistory forgets channel's history, here and at the broker. The
// channel keeps its position while it has subscribers (or, with a broker,
// at the broker); clients that resume from before the clear get
// recovered:false. Safe from any goroutine.
func (n *Node) ClearHistory(ctx context.Context, channel string) error {
	if err := checkName(channel, n.set().MaxChannelLength); err != nil {
		return err
	}
	if n.opts.Broker != nil {
		hc, ok := n.opts.Broker.(HistoryClearer)
		if !ok {
			return fmt.Errorf("%w: this broker cannot clear history", ErrUnavailable)
		}
		if err := hc.ClearHistory(ctx, channel); err != nil {
			return &UnavailableError{err}
		}
	}
	ch := n.hub.lookup(channel)
	if ch == nil {
		return nil
	}
	ch.mu.Lock()
	n.dropHistory(ch)
	unused := ch.unused()
	ch.mu.Unlock()
	if unused {
		n.hub.dropIfUnused(ch)
	}
	return nil
}

// unframe returns the JSON inside a frame made by Options.Frame: the
// suffix that, framed again, gives the same length. Frames are short
// headers (at most 14 bytes in WebSocket) before the JSON object.
func (n *Node) unframe(frame []byte) json.RawMessage {
	for h := 0; h <= 16 && h < len(frame); h++ {
		if frame[h] == '{' && len(n.opts.Frame(frame[h:])) == len(frame) {
			return json.RawMessage(frame[h:])
		}
	}
	return json.RawMessage(frame)
}

// eventJSON encodes a broker's event as clients receive it.
func eventJSON(channel string, e BrokerEvent) json.RawMessage {
	v := struct {
		Type      string          `json:"type"`
		Channel   string          `json:"channel"`
		ProjectID string          `json:"projectId,omitempty"`
		Offset    uint64          `json:"offset"`
		Epoch     string          `json:"epoch"`
		Payload   json.RawMessage `json:"payload,omitempty"`
	}{e.Type, channel, projectID(channel), e.Offset, e.Epoch, e.Payload}
	b, _ := json.Marshal(v)
	return b
}

// CheckChannel refuses a channel name a client could not subscribe to
// (an error with Invalid() true): the control plane checks an action's
// channel once, before every node is sent it. Safe from any goroutine.
func (n *Node) CheckChannel(name string) error { return checkName(name, n.set().MaxChannelLength) }

// checkName refuses a channel name a client could not subscribe to.
func checkName(name string, maxLen int) error {
	if !validName(name, maxLen, &nameChars) {
		return &InputError{fmt.Errorf("%w: %q", ErrInvalidChannel, name)}
	}
	return nil
}
