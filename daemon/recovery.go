package daemon

import "encoding/json"

// position is a place in a channel's stream, as a client sends it back in
// subscribe's "since".
type position struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// subscribedReply answers subscribe with the channel's current position;
// with "since", Recovered says whether every missed event follows.
type subscribedReply struct {
	Type      string          `json:"type"`
	ID        json.RawMessage `json:"id,omitempty"`
	Channel   string          `json:"channel"`
	ProjectID string          `json:"projectId,omitempty"`
	Offset    uint64          `json:"offset"`
	Epoch     string          `json:"epoch"`
	Recovered *bool           `json:"recovered,omitempty"`
}

// joined sends the subscribed reply and, for a subscribe with "since"
// whose events are all still kept, replays them. It runs under the channel
// lock, so no live event can come between the reply, the replay and the
// events that follow: the client sees a contiguous sequence. A position
// from another epoch, in the future, or older than the history is answered
// with recovered=false and no replay — never a partial one.
func (s *Session) joined(cmd command, ch *channel) {
	s.node.trimExpired(ch)
	r := subscribedReply{Type: "subscribed", ID: cmd.ID, Channel: ch.name, ProjectID: cmd.ProjectID,
		Offset: ch.last, Epoch: ch.epoch}
	from, ok := 0, false
	var fetched [][]byte // from the broker, when the local history falls short
	if cmd.Since != nil {
		if cmd.Since.Epoch == ch.epoch {
			from, ok = ch.hist.since(cmd.Since.Offset, ch.last)
		}
		if !ok && ch.shared {
			fetched, ok = s.node.brokerReplay(ch, cmd.Since)
			from = ch.hist.len()
		}
		r.Recovered = &ok
	}
	sendReply(s, r)
	if ok {
		s.replay(ch, from, fetched)
	}
}

// replay queues fetched, then ch's history from index from, and flushes.
// Called with ch.mu held.
func (s *Session) replay(ch *channel, from int, fetched [][]byte) {
	replayed := 0
	for _, f := range fetched {
		if queued, _ := s.t.Queue(f); !queued {
			return // the transport closes a client that cannot take it
		}
		replayed++
	}
	for i := from; i < ch.hist.len(); i++ {
		if queued, _ := s.t.Queue(ch.hist.at(i).frame); !queued {
			break
		}
		replayed++
	}
	if replayed > 0 {
		s.t.Flush()
		s.node.delivered.Add(uint64(replayed))
	}
}

// trimExpired drops the channel's events older than its history TTL.
// Called with ch.mu held.
func (n *Node) trimExpired(ch *channel) {
	if ch.opts.HistoryTTL <= 0 || ch.hist.len() == 0 {
		return
	}
	r := ch.hist.r
	freed := ch.hist.trimOlder(n.opts.Now().UnixNano() - ch.opts.HistoryTTL.Nanoseconds())
	n.histBytes.Add(-int64(freed))
	if ch.hist.len() == 0 {
		n.lru.unlink(r) // dropped with its last event
	}
}

// SweepHistory trims every channel's history to its TTL, drops channels
// left with neither history nor subscribers, and forgets idempotency keys
// past their window; Run calls it every second.
func (n *Node) SweepHistory() {
	var unused []*channel
	n.hub.each(func(ch *channel) {
		ch.mu.Lock()
		n.trimExpired(ch)
		if ch.unused() {
			unused = append(unused, ch)
		}
		ch.mu.Unlock()
	})
	for _, ch := range unused {
		n.hub.dropIfUnused(ch)
	}
	n.idem.expire(n.opts.Now().UnixNano() - n.set().IdempotencyWindow.Nanoseconds())
}
