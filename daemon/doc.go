// Package daemon is fanoutd's core: the hub that maps channels to sessions,
// the client protocol (subscribe, unsubscribe, ping), and publishing. It is
// transport-free: a session writes to a Transport (the epoll WebSocket
// transport in production, a fake in tests) and receives client messages
// through Session.Message.
//
// # Fan-out
//
// Publish validates an event, encodes it once (JSON, then the transport's
// frame via Options.Frame) and hands the same bytes to every subscriber's
// Transport.Send, which only enqueues: no socket write happens under a hub
// lock. A publish to a channel without subscribers encodes nothing.
//
// Compression follows the same rule: when a subscriber whose transport
// negotiated it (DeflateTransport) gets an event its channel compresses
// (ChannelOptions.CompressMin), the event is compressed once with
// Options.Compress and that frame goes to every such subscriber of the
// delivery, the plain one to the others (lazyFrame). Nothing is kept per
// connection; history keeps the plain frame.
//
// # Positions, history and recovery
//
// Each channel numbers its events (offset, within an epoch that is new
// whenever the channel's state is created) and keeps the last ones in a
// ring bounded by ChannelOptions.HistorySize and HistoryTTL, chosen by name
// prefix (Options.ChannelClasses). All history together is bounded by
// Options.HistoryMaxBytes: an LRU of channels by latest publish gives up the
// oldest channel's history first. A channel lives while it has subscribers
// or history. A subscribe with "since" replays from the ring under the
// channel lock, so replay and live events form one sequence; a position the
// ring no longer covers is refused (recovered=false), never half-served.
// Idempotency keys map (channel, key) to the first position for
// Options.IdempotencyWindow.
//
// Slow consumers are the transport's business (Transport.QueueEvent with
// the channel's policy); the core counts what was skipped and tells a
// drop-oldest client with a "missed" frame.
//
// Presence reads a channel's subscribers; join/leave frames go out under
// the channel lock. Connection events (StreamConnEvents) are a bounded ring
// of NDJSON lines with sequence numbers, written on connect, subscribe,
// unsubscribe and disconnect, never on the publish path.
//
// # Reload and latency
//
// Reconfigure swaps the reloadable options (Settings) behind an atomic
// pointer: limits apply to live sessions from their next command, channel
// settings to channels created afterwards. A transport that implements
// TimedTransport gets each event's publish time with it, for its
// publish→write latency; the core reads no extra clock for it.
//
// # Concurrency and lock order
//
// Publish, Stats and CheckEvent may be called from any goroutine. A
// session's Message and Closed are called by its transport one at a time.
// The control plane's operations (control.go: Disconnect, SubscribeServer,
// UnsubscribeServer, Connections) come from other goroutines; each
// session's ctl lock serialises them with its transport's calls, and is
// taken before any hub or channel lock (the registry's own lock is
// released before it).
// Locks: hub shard → channel → {history LRU, idempotency, connection
// events, expiry shard}; the last four never nest. A channel's lock is held
// while an event is numbered, kept and enqueued to its subscribers, which
// serialises publishes per channel (per-channel order) and makes a
// subscription, with its replay, atomic with respect to them. History
// eviction takes the LRU lock, releases it, then the victim's channel lock.
//
// # Usage
//
//	n := daemon.New(daemon.Options{Frame: netpoll.TextFrame})
//	s := n.Connect(conn, daemon.Identity{Subject: "u1", Channels: []string{"project:*"}})
//	_ = n.Publish(ctx, "project:abc", "story.status.changed", []byte(`{"status":"done"}`))
package daemon
