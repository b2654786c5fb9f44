// Package netpoll is fanoutd's WebSocket transport: it accepts TCP
// connections on a caller's net.Listener, upgrades them with gobwas/ws, and
// then serves every connection from an epoll set with a fixed pool of worker
// goroutines. No goroutine is kept per connection and each connection costs
// one file descriptor. It knows nothing about channels, tokens or JSON: it
// hands complete messages to a Session and sends the bytes it is given.
//
// # Design
//
// Each accepted socket is registered once in a mailru/easygo Epoll set by its
// raw fd (never netpoll.Handle or conn.File, which dup the fd and switch it to
// blocking mode), edge-triggered for EPOLLIN|EPOLLOUT|EPOLLRDHUP. The epoll
// goroutine only sets "pending" bits on the Conn and puts it on the run queue;
// a worker takes it from there. A Conn is on the run queue at most once and is
// run by at most one worker at a time, so everything that touches the socket
// (reads, writes, close) happens in one goroutine at a time: one reader and
// one writer per connection by construction.
//
//   - Reads take what the socket has (up to a per-turn budget, for fairness)
//     and parse complete frames in place in the worker's buffer. A frame
//     still arriving moves to a buffer of its own, sized from its header
//     (whose length was checked against the limits), which later reads fill
//     in place: the cost is linear in the bytes received however they are
//     cut, and a client dripping bytes never blocks a worker. Text is
//     checked for UTF-8 as it arrives (each fragment, and the received part
//     of a frame), so invalid text fails with 1007 before the message
//     completes. A message not whole within Options.MessageTimeout is closed
//     with 1008 by the sweeper.
//   - An idle connection holds little beyond its Conn. Most connections
//     are idle nearly all the time, and a process holds tens of thousands,
//     so what one costs at rest is what counts: the input a connection keeps
//     between reads (the request head, a frame or message still arriving,
//     an adopted connection's input) is not in Conn but in an inbound
//     struct, taken from a pool when input is cut across reads and given
//     back once it is whole (inbound.go). Frames that arrive whole never
//     take one. This keeps Conn at 288 bytes instead of 456 (480 with
//     the allocator's rounding). Likewise the sweeper makes a write queue
//     that stayed empty for a whole pass give back its entry array, while
//     a connection written more often keeps its array: releasing it as
//     soon as the queue drains would cost each delivery an allocation.
//   - Writes go through a per-connection queue of whole frames. Send appends
//     (never blocks, never writes) and schedules a flush; the worker writes
//     with writev, so several queued frames leave in one system call. A write
//     that would block leaves the rest queued until EPOLLOUT. The queue is
//     bounded in bytes; a connection over it is closed with CloseSlowConsumer.
//     Control frames (pong, close) go through the same queue, so they can
//     never land inside another frame. With Options.FlushDelay, Flush (the
//     publish path) writes a connection at once when it was not written
//     within the delay, and otherwise leaves it to one timer that releases
//     every waiting connection together (see coalescer): fewer, fuller
//     writes for busy connections, no delay for idle ones. A short read
//     ends a turn's reading (the socket is drained; the next bytes raise a
//     new edge), except after EPOLLRDHUP, when it reads on to the EOF.
//   - Slow consumers: QueueEvent queues an event frame with a key (its
//     channel) and a policy for when it does not fit: PolicyDisconnect
//     (close, as Send does), PolicyDropOldest (drop the oldest queued event
//     frames and report how many, so the caller can tell the client), or
//     PolicyLatest (replace the waiting frame of the same key: one frame per
//     key waits). Frames queued with Send or Queue (replies, pongs, close
//     frames) are never dropped or replaced, nor is a frame a write has
//     started on: the queue fixes the frames a writev points at until the
//     worker accounts for what it wrote (see writeQueue).
//   - permessage-deflate (Options.Deflate, deflate.go) is negotiated with no
//     context takeover either way, so a frame made by a Compressor is valid
//     for every connection that negotiated it and no connection keeps a
//     compressor or an inflater: inbound compressed messages are assembled
//     like others, then inflated by a pooled reader into a buffer that
//     never grows past MaxMessageSize (1009 beyond it).
//   - One sweeper goroutine sends heartbeat pings (the first one jittered),
//     closes connections that did not answer in time, and enforces the
//     handshake and close deadlines: no timer per connection.
//   - The handshake is read through the same epoll path with the request head
//     capped (Options.MaxHeaderBytes) and a deadline, so a slowloris client
//     holds a few KiB and no goroutine. Path and ExtraPaths upgrade (the
//     Handler tells them apart); requests for other paths are handed to an
//     optional net.Listener (HTTPListener) for net/http to serve.
//   - Caps count sockets, whatever they become: MaxConns and MaxConnsPerIP
//     count handshakes, WebSockets and the connections handed to net/http
//     until net/http closes them; those may take MaxHTTPConns at most, so
//     idle HTTP clients always leave slots for upgrades.
//   - Probe, for a service manager's watchdog, sends an event on an eventfd
//     through the epoll set and the run queue, so it answers only while the
//     event loop and at least one worker do.
//   - Shutdown drains: StopAccepting closes the listeners (the caller may
//     do that first and finish other work), then ShutdownWith closes the
//     connections spread over a window (one slot per connection, jitter
//     inside it), each after what was queued for it and with its own
//     reason, so that clients do not all reconnect in the same second.
//   - Live limits: SetLimits swaps the reloadable limits (message size,
//     fragments, write queue, header size, handshake timeout) behind an
//     atomic pointer that the read and write paths load without a lock.
//   - Observability costs the hot path nothing it would not pay anyway:
//     counters are atomics read by Stats, CloseCodesSent and WriteLatency;
//     an event frame queued with QueueEventAt carries its publish time, and
//     one write in Options.LatencySample reads the clock to record the
//     latency of the oldest event it sent. Conn.SetID names a connection in
//     the transport's log lines with the session's id.
//
// # Hand-off
//
// Every live connection can move to another process (a binary upgrade, or
// systemd's descriptor store) without its client noticing, because a
// connection is a raw descriptor plus a little explicit state:
//
//	old: Freeze → Export → (pass descriptors and states)      → Release
//	new: NewServer → Freeze → Adopt each state → (tell the old) → Resume → Serve
//
// The new side's Freeze makes it two-phase: until Resume, the adopted
// connections are not read or written, so if the hand-off is called off
// (the new side calls Release, which drops its copies silently) the old
// side's Resume finds every socket as it left it. A new side that Adopts
// unfrozen starts serving at once: past that point the old side must not
// Resume.
//
// Freeze pauses the transport without touching a socket. A gate
// (sync.RWMutex) is held for reading by every worker turn, every sweep and
// every backlog drain, and Freeze takes it for writing: it returns when the
// turns under way have finished, and none starts until Resume or Release.
// The epoll goroutine keeps setting pending bits and queueing connections,
// so no edge-triggered event is lost, only deferred; a listener's event
// leaves a token in its accept loop's wake channel, so clients that
// arrived meanwhile (waiting in the listen backlog) are accepted right after
// Resume. The sweeper skips its passes while frozen rather than queue behind
// the gate, and Resume moves the heartbeat schedule and the running
// deadlines (pong, message, handshake, closing) on by the length of the
// freeze, so the pause counts against no client. Send and Close from
// other goroutines still queue. Freeze gives up and undoes itself when its
// context ends.
//
// Export then reads each connection's worker-owned state (safe: no worker
// holds the gate) into a ConnState, without changing anything, so that a
// failed hand-off ends in Resume as if nothing happened. Input that was read
// but not delivered is re-encoded in wire form, as a client could have
// sent it: the fragments of a message being assembled become one masked
// frame without FIN (mask key zero, RSV1 when compressed), followed by the
// frame still arriving, byte for byte as the client sent it (the part of
// its payload the reader had unmasked is masked again). The receiver feeds
// those bytes through the normal parser before reading the socket, so the
// UTF-8 state, size limits, fragment count (the fragments received count
// as one) and message deadline are rebuilt by the code that keeps them
// rather than serialised: nothing in the image depends on the parser's
// internals, and the receiver may run a newer parser. Output is the write queue's
// unwritten bytes, in order, starting with the rest of a frame a write had
// begun, so the client sees whole frames once. Connections that are closing
// are not exported.
//
// Release closes this process's copy of every descriptor, after taking it
// out of the epoll set (a registration belongs to the open file
// description, which the new process keeps alive), without shutdown() and
// without a close frame: closing one of two descriptors of a socket sends
// nothing. No Session.Closed is called. Then the loops stop; the listeners
// stay open for their next owner.
//
// Adopt builds a Conn around a received descriptor (non-blocking, counted
// in the caps and Stats like an accepted connection), queues the exported
// output first, binds a Session for an open connection, registers it in
// epoll and schedules a first turn that ingests the exported input. The Conn
// is marked as queued until it is complete, so that a Send from bind or a
// sweep cannot run a turn on it half made.
//
// # Concurrency contract
//
// Handler.Accept and every Session method are called from a worker, one call
// at a time per connection. Conn.Send, Queue, QueueEvent, Flush and Close may
// be called from any goroutine; they hold Conn.mu for a few slice operations
// (QueueEvent's policies scan the queue: linear in its length). Lock order:
// Server.freezeMu, then Server.gate, then Server.mu (registry) or Conn.mu.
// Server.mu is never held while taking a Conn.mu, except by the sweeper,
// which only reads atomics, calls Send and try-locks a Conn.mu to trim an
// idle queue. Freeze waits for the turns under way: it must not be called
// from a Handler or Session method, nor while holding a lock that one of
// them takes.
//
// # Usage
//
//	srv, _ := netpoll.NewServer(netpoll.Options{Handler: h, Path: "/ws"})
//	go srv.Serve(ln)
//	defer srv.Shutdown(ctx)
package netpoll
