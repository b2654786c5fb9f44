// Package sse is fanoutd's Server-Sent Events transport: the WebSocket
// route's events over a plain GET, for clients behind proxies that refuse
// WebSocket upgrades (PROTOCOL.md, section 7).
//
// A request GET <path>?channels=a,b is counted against Options.MaxStreams
// (503 over it), admitted by the Admitter (the checks a WebSocket upgrade
// gets), and becomes a daemon.Session whose Transport is the stream: the
// session subscribes the URL's channels, from the positions of
// Last-Event-ID (or the last_event_id parameter) when given. Each framed
// message the core queues is written as one event: "id" carries every
// channel's position ("channel offset epoch" triples) whenever one moved,
// "event" the message's type, "data" its JSON. A stream ends with a
// "close" event carrying the close code a WebSocket client would have
// got. CORS: an Origin on the allowlist is echoed with credentials; with
// no allowlist the answer is "*" without credentials; otherwise none.
//
// # Concurrency
//
// Each stream holds its handler's goroutine (the route is a fallback,
// hence the cap): that goroutine alone writes to the client, the queued
// events and a comment line every Options.Heartbeat, each write under a
// 10 s deadline. The core calls the stream's Transport methods from any
// goroutine; they only touch a netpoll.FrameQueue (the WebSocket queue's
// bounds and slow-consumer policies, so both transports drop and close
// alike) under the stream's lock, and wake the writer: they never block
// on the client. Lock order: Handler.mu, then a stream's mu (Shutdown
// closes the streams under the first); no lock is held while writing.
//
// # Imports
//
// sse imports daemon (it is a transport over daemon.Session, as the root
// package is for netpoll) and netpoll (FrameQueue, the frame codec, close
// codes, and Request and HTTPError, the admission's vocabulary). Neither
// imports sse; only the root package wires it. The admission is a small
// interface owned here, Admitter, that the root's upgrader satisfies:
// Origin, upgrade rate, per-address and per-user limits and the token are
// the daemon's policy, with reloadable settings and counters shared with
// WebSocket upgrades, so they stay in one place at the root rather than
// being copied or exported from it.
//
// # Usage
//
//	h := sse.New(sse.Options{Node: node, Admitter: up, Heartbeat: 15 * time.Second,
//		QueueBytes: 1 << 20, MaxStreams: 1000})
//	mux.Handle("/sse", h)
//	...
//	h.Shutdown(1001, "") // at shutdown: refuse new streams, end open ones
//	_ = h.Streams()      // open streams, for the stats
package sse
