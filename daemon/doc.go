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
// Slow consumers are the transport's business (Transport.QueueEventAt with
// the channel's policy); the core counts what was skipped and tells a
// drop-oldest client with a "missed" frame.
//
// Presence reads a channel's subscribers; join/leave frames go out under
// the channel lock. Connection events (StreamConnEvents) are a bounded ring
// of records with sequence numbers, written on connect, subscribe,
// unsubscribe and disconnect, never on the publish path, and encoded as
// NDJSON lines when a stream reads them.
//
// # Reload and latency
//
// Reconfigure swaps the reloadable options (Settings) behind an atomic
// pointer: limits apply to live sessions from their next command, channel
// settings to channels created afterwards. A transport gets each event's
// publish time with it (Transport.QueueEventAt), for its publish→write
// latency; the core reads no extra clock for it.
//
// # Hand-off
//
// A restart or upgrade can hand every live connection to a new process
// (issue 20) instead of closing it. The core's part is to stop, describe
// and restart its state so that no client notices: no close, every event
// once and in order, positions continuous. On the old node the root, after
// stopping the publish API and freezing the transport, calls Freeze,
// ExportState and each Session.Export; on the new one ImportState, then
// Resume for each session on its new transport; once the new process has
// taken over, the old one calls Session.Detach for each session (or Retire).
// If the hand-off fails before that, Unfreeze puts the old node back as it
// was.
//
// Freeze closes a gate (handoff.go) that every state change from outside
// a session's own transport passes: publishes, broker deliveries, resyncs,
// the sweepers and the control plane's changes. Passing it costs two
// atomic operations; Freeze waits until nobody is inside, so that the
// state it leaves is still, and nothing is queued to a session afterwards.
// Waiting publishes and control-plane calls go on at Unfreeze, or fail
// with ErrHandedOff at Retire; broker deliveries are kept aside (bounded,
// past the bound a channel is caught up from the broker's history instead)
// and delivered by Unfreeze, or dropped at Retire: the new process
// catches up from the broker.
//
// Why positions are enough: every subscriber of a channel on one node has
// been queued the channel's events up to its position (subscribing and
// delivering both happen under the channel lock), so a frozen session
// records, per subscription, the channel's position. With the memory
// broker the channels come back with the same epoch, offset, history and
// idempotency window, so the next publish simply continues; with a Broker
// the new node links each channel and sends what the session lacks from
// the broker's history, through the recovery code a "since" subscribe
// uses (replay, brokerReplay), and a "missed" frame when continuity cannot
// be proved. The states are plain structs with JSON tags; the image's
// version and framing are package handoff's. Frames are exported without
// the transport's framing and framed again by the new node's Options.Frame.
//
// Resume sends nothing the client would not otherwise get: no welcome, no
// reply, no OnConnect, no connection event (an app following the stream
// sees the connection go on). Detach reports nothing either (no
// OnDisconnect, "leave", connection event or presence removal): the
// connection did not end, it moved.
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
// events, registry shard}; the last four never nest. The hand-off gate is
// entered before a session's ctl lock and any of these; its own mutex is
// never held while taking another. A channel's lock is held
// while an event is numbered, kept and enqueued to its subscribers, which
// serialises publishes per channel (per-channel order) and makes a
// subscription, with its replay, atomic with respect to them. History
// eviction takes the LRU lock, releases it, then the victim's channel lock.
//
// # What a held connection costs
//
// A daemon holds tens of thousands of mostly idle connections, so what each
// keeps is sized on purpose (TestHeldSizes, BenchmarkSessionHeap: ~580
// bytes of heap for a session subscribed to its own channel). A Session is
// 176 bytes; a channel 128 until it stores history or links to a broker,
// whose state it then allocates; the connection-event ring keeps 64-byte
// records and encodes lines only when a stream reads them; the registry is
// a set of sessions. A hub shard keeps its channels in chanTable, a hash
// table written here rather than a map[string]*channel because a map slot
// holds a copy of the name's header beside the pointer: ~46 bytes a
// channel against 8.
//
// # Usage
//
//	n := daemon.New(daemon.Options{Frame: netpoll.TextFrame})
//	s := n.Connect(conn, daemon.Identity{Subject: "u1", Channels: []string{"project:*"}})
//	// or, for channels named in the connect URL (?channels=…):
//	// cs, err := n.ConnectSubscriptions(rawQuery, lastEventID)
//	// s := n.ConnectWith(conn, id, cs)
//	_ = n.Publish(ctx, "project:abc", "story.status.changed", []byte(`{"status":"done"}`))
package daemon
