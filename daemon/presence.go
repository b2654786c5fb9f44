package daemon

import (
	"encoding/json"
	"slices"
	"strings"
)

// Client is one subscriber as presence reports it.
type Client struct {
	ConnectionID string `json:"connection_id"`
	User         string `json:"user"`
	// Info is the token's "info" claim, verbatim; absent without one.
	Info json.RawMessage `json:"info,omitempty"`
	// Node names the node the client is connected to, with a broker that
	// keeps presence across nodes; absent otherwise.
	Node string `json:"node,omitempty"`
}

// Presence lists the channel's subscribers, in no particular order; nil
// when it has none. With a PresenceBroker they are those of every node.
func (n *Node) Presence(channel string) []Client {
	if list, ok := n.sharedPresence(channel); ok {
		return list
	}
	ch := n.hub.lookup(channel)
	if ch == nil {
		return nil
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	out := make([]Client, len(ch.subs))
	for i, sub := range ch.subs {
		out[i] = sub.s.client()
	}
	return out
}

// ChannelCount is one entry of Channels.
type ChannelCount struct {
	Channel     string `json:"channel"`
	Subscribers int    `json:"subscribers"`
	Offset      uint64 `json:"offset"`
	Epoch       string `json:"epoch"`
}

// Channels lists the channels with subscribers or history, sorted by name,
// with their subscriber counts and positions.
func (n *Node) Channels() []ChannelCount {
	var out []ChannelCount
	n.hub.each(func(ch *channel) {
		ch.mu.Lock()
		if !ch.dead {
			out = append(out, ChannelCount{Channel: ch.name, Subscribers: len(ch.subs), Offset: ch.last, Epoch: ch.epoch})
		}
		ch.mu.Unlock()
	})
	slices.SortFunc(out, func(a, b ChannelCount) int { return strings.Compare(a.Channel, b.Channel) })
	return out
}

func (s *Session) client() Client {
	return Client{ConnectionID: s.id, User: s.subject, Info: s.infoClaim()}
}

// presenceFrame is a join or leave frame.
type presenceFrame struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	Client
}

// announce tells the channel's other subscribers that s joined or left,
// when the channel is configured for it. Called with ch.mu held, so the
// frame is ordered with the channel's events.
func (s *Session) announce(ch *channel, typ string) {
	if !ch.opts.JoinLeave {
		return
	}
	var msg []byte
	for _, sub := range ch.subs {
		if sub.s == s {
			continue
		}
		if msg == nil {
			msg = s.node.opts.Frame(marshalReply(presenceFrame{Type: typ, Channel: ch.name, Client: s.client()}))
		}
		sub.s.t.Send(msg)
	}
}
