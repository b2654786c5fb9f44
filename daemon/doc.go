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
// # Concurrency and lock order
//
// Publish, Stats and CheckEvent may be called from any goroutine. A
// session's Message and Closed are called by its transport one at a time.
// Locks: hub shard → channel; a channel's lock is held while enqueueing to
// its subscribers, which serialises publishes per channel (per-channel
// order) and makes a subscription atomic with respect to them.
//
// # Usage
//
//	n := daemon.New(daemon.Options{Frame: netpoll.TextFrame})
//	s := n.Connect(conn, daemon.Identity{Subject: "u1", Channels: []string{"project:*"}})
//	_ = n.Publish(ctx, "project:abc", "story.status.changed", []byte(`{"status":"done"}`))
package daemon
