package daemon

import "time"

// Settings are the Options a running Node takes anew on a configuration
// reload (Reconfigure). Zero values mean the documented defaults, as in
// Options.
//
// A reload swaps the whole value behind an atomic pointer: readers on the
// hot paths (a command's rate limit, a publish's checks) load it without a
// lock and see either the old settings or the new ones, never a mix. What
// was decided with the old ones stays: a channel keeps the history size,
// TTL, slow-consumer policy and join/leave setting it was created with
// until it is dropped (no subscribers and no history) and created again,
// and a connection keeps the public channels it was given at connect.
type Settings struct {
	MaxSubscriptions   int
	CommandsPerSecond  int
	MaxChannelLength   int
	MaxPayloadBytes    int
	ExpiryWarning      time.Duration
	PublicChannels     []string
	DefaultChannel     ChannelOptions
	ChannelClasses     []ChannelClass
	HistoryMaxBytes    int64
	IdempotencyWindow  time.Duration
	IdempotencyMaxKeys int
}

// settings extracts the reloadable part of o, defaults applied.
func (o Options) settings() *Settings {
	o = o.withDefaults()
	return &Settings{
		MaxSubscriptions:   o.MaxSubscriptions,
		CommandsPerSecond:  o.CommandsPerSecond,
		MaxChannelLength:   o.MaxChannelLength,
		MaxPayloadBytes:    o.MaxPayloadBytes,
		ExpiryWarning:      o.ExpiryWarning,
		PublicChannels:     o.PublicChannels,
		DefaultChannel:     o.DefaultChannel,
		ChannelClasses:     o.ChannelClasses,
		HistoryMaxBytes:    o.HistoryMaxBytes,
		IdempotencyWindow:  o.IdempotencyWindow,
		IdempotencyMaxKeys: o.IdempotencyMaxKeys,
	}
}

// ApplySettings sets o's reloadable fields from s: what New starts with is
// what Reconfigure would install.
func (o *Options) ApplySettings(s Settings) {
	o.MaxSubscriptions, o.CommandsPerSecond = s.MaxSubscriptions, s.CommandsPerSecond
	o.MaxChannelLength, o.MaxPayloadBytes = s.MaxChannelLength, s.MaxPayloadBytes
	o.ExpiryWarning, o.PublicChannels = s.ExpiryWarning, s.PublicChannels
	o.DefaultChannel, o.ChannelClasses = s.DefaultChannel, s.ChannelClasses
	o.HistoryMaxBytes = s.HistoryMaxBytes
	o.IdempotencyWindow, o.IdempotencyMaxKeys = s.IdempotencyWindow, s.IdempotencyMaxKeys
}

// Reconfigure replaces the node's Settings; safe from any goroutine, and
// concurrent with publishes and sessions. The slices are kept, not copied:
// the caller must not modify them afterwards.
func (n *Node) Reconfigure(s Settings) {
	o := n.opts
	o.ApplySettings(s)
	n.live.Store(o.settings())
}

// set is the settings in force.
func (n *Node) set() *Settings { return n.live.Load() }
