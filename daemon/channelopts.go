package daemon

import (
	"strings"
	"time"
)

// Slow-consumer policies: what happens to a subscriber whose write queue is
// full when an event of the channel arrives. The values are the transport's
// (netpoll.PolicyDisconnect, …): the root package checks that they agree.
const (
	// PolicyDisconnect closes the connection with 4001; the client
	// reconnects and recovers from history. The default.
	PolicyDisconnect = 0
	// PolicyDropOldest drops the oldest queued events to make room and
	// tells the client with a "missed" frame.
	PolicyDropOldest = 1
	// PolicyLatest keeps only the newest queued event per channel: for
	// dashboards and tickers, where only the current value matters.
	PolicyLatest = 2
)

// ChannelOptions are the per-channel settings, chosen by name prefix.
type ChannelOptions struct {
	// HistorySize is how many recent events the channel keeps for
	// recovery; 0 keeps none.
	HistorySize int
	// HistoryTTL is how long an event stays in history; 0 means no age
	// limit (size and the daemon-wide cap still apply).
	HistoryTTL time.Duration
	// SlowConsumer is one of the Policy constants.
	SlowConsumer int
	// JoinLeave sends "join" and "leave" frames to the channel's
	// subscribers when others subscribe and unsubscribe.
	JoinLeave bool
	// CompressMin: events whose frame is at least this many bytes are sent
	// compressed to the connections that negotiated compression (see
	// Options.Compress), compressed once for all of them; 0 compresses
	// nothing, 1 everything. Below a few hundred bytes deflate saves little
	// or nothing and costs both ends CPU.
	CompressMin int
}

// compresses reports whether an event frame of size bytes goes compressed.
func (o *ChannelOptions) compresses(size int) bool {
	return o.CompressMin > 0 && size >= o.CompressMin
}

// ChannelClass applies Options to every channel whose name starts with
// Prefix; the longest matching prefix wins.
type ChannelClass struct {
	Prefix string
	ChannelOptions
}

// channelOptions resolves a channel's settings once, when the channel is
// created, from the Settings in force then: a reload changes the channels
// created after it (see Settings). The pointer is into an immutable
// Settings value, so it stays valid and unchanged after a reload.
func (n *Node) channelOptions(name string) *ChannelOptions {
	set := n.set()
	best := -1
	for i, c := range set.ChannelClasses {
		if strings.HasPrefix(name, c.Prefix) && (best < 0 || len(c.Prefix) > len(set.ChannelClasses[best].Prefix)) {
			best = i
		}
	}
	if best < 0 {
		return &set.DefaultChannel
	}
	return &set.ChannelClasses[best].ChannelOptions
}

// ChannelOptions returns the settings a channel called name gets.
func (n *Node) ChannelOptions(name string) ChannelOptions { return *n.channelOptions(name) }
