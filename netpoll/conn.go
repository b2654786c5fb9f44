package netpoll

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	mepoll "github.com/mailru/easygo/netpoll"
)

// Connection states. Only the worker running the connection changes them;
// the sweeper reads them.
const (
	stateHandshake uint32 = iota
	stateOpen
	stateClosing // our close frame is queued or sent; waiting for flush and the peer's answer
	stateClosed
)

// Pending work bits, set from any goroutine, consumed by the worker.
const (
	pendRead  uint32 = 1 << iota // the socket may be readable
	pendWrite                    // the queue may be flushable
	pendClose                    // a close was requested (Close or overflow)
	pendKill                     // a deadline passed: close the socket now
	pendHup                      // the peer hung up or the socket failed: read to EOF
	pendAdopt                    // adopted: ingest inbound.adopted before reading the socket
)

// Conn is one client connection. Send and Close are safe from any goroutine;
// everything else belongs to the worker running the connection.
//
// Every held connection costs one Conn: it is 192 bytes, a size class of
// its own (TestConnSize), so the fields are packed with no padding to
// spare. The ones a delivery touches (Queue, Flush, the worker's writev)
// come first, in the first two of its three 64-byte lines, and a Flush
// that finds the connection queued already touches the first only (the
// allocator places 192-byte objects at multiples of 192 in page-aligned
// spans, so these are whole cache lines).
type Conn struct {
	srv       *Server
	pending   atomic.Uint32
	queued    atomic.Bool
	closeCode int32 // the code of the queued close frame, 0 when none; guarded by mu
	state     atomic.Uint32

	// Guarded by mu: the write queue, closeCode and dead.
	mu sync.Mutex
	q  writeQueue

	deflate  atomic.Bool // permessage-deflate was negotiated (Deflate)
	deferred atomic.Bool // a deferred flush waits for the coalescer's timer (see lastFlush)
	fd       int32       // Fd; descriptors are ints in the system calls, and fit 32 bits
	dead     bool        // socket closed: Send fails; guarded by mu
	flags    connFlags   // worker-owned
	// overIP: over MaxConnsPerIP at accept, answer 429 once the request is
	// read. Set by register before any worker runs the connection, read
	// under Server.mu.
	overIP bool

	// Deadlines and liveness, in Server.now() nanoseconds; read by the sweeper.
	deadline atomic.Int64 // handshake or closing deadline
	ping     atomic.Int64 // when the next ping is due, or when the unanswered one was sent (see pingDue)
	msgStart atomic.Int64 // when the incomplete inbound message began; 0 when none
	// Flush coalescing (see coalescer): when Flush last scheduled a write.
	lastFlush atomic.Int64

	// Worker-owned.
	id      string // SetID; "" until the handler named it
	session Session
	in      *inbound // input still incomplete (see inbound); nil when none, as when idle
	code    int32    // the close code reported to Session.Closed

	raddr peerAddr // set before the connection is registered (setRemote); read-only after
}

// connFlags are worker-owned states of a closing connection, one bit each
// (a byte, where four bools took four).
type connFlags uint8

const (
	peerClosed      connFlags = 1 << iota // the peer's close frame was received
	closeSent                             // our close frame was fully written
	rejecting                             // a handshake error response is queued; close once flushed
	closeAfterFlush                       // a failed connection: close right after the close frame
)

func (f connFlags) has(b connFlags) bool { return f&b != 0 }

// Send queues one complete, pre-encoded frame (see AppendFrame) and makes
// sure a worker will write it. It never blocks and never writes itself.
// frame must not be modified afterwards; the same slice may be sent to many
// connections. Send returns false when the connection is closing or closed,
// or when the frame would take its queue over Options.WriteQueueBytes, in
// which case the connection is closed with CloseSlowConsumer.
func (c *Conn) Send(frame []byte) bool {
	ok, first := c.Queue(frame)
	if first {
		c.Flush()
	}
	return ok
}

// Queue is Send without scheduling the write. first reports that the queue
// was empty: the caller must then call Flush after queueing what it has.
// Otherwise a write is already due (scheduled, running, or waiting for
// EPOLLOUT) and will take this frame too. Queueing a batch before flushing
// lets one writev carry all of it. A frame queued here is never dropped by
// a slow-consumer policy.
func (c *Conn) Queue(frame []byte) (ok, first bool) {
	ok, first, _ = c.QueueEvent(frame, 0, PolicyDisconnect)
	return ok, first
}

// QueueEvent is Queue for an event frame with a slow-consumer policy. key
// identifies the event's channel (non-zero; 0 makes the frame one that is
// never dropped, as with Queue); policy is one of PolicyDisconnect,
// PolicyDropOldest and PolicyLatest (other values mean PolicyDisconnect).
// dropped counts the queued frames the policy removed to take this one: the
// oldest events dropped for room, plus the frame of the same key that a
// PolicyLatest frame replaced. The caller decides what the client is told:
// after drops for room, the next frame queued with Queue is sure to fit if
// it has at most 512 bytes, which is meant for a notice. When ok is false
// the connection is closing and dropped means nothing.
func (c *Conn) QueueEvent(frame []byte, key uint64, policy int) (ok, first bool, dropped int) {
	return c.QueueEventAt(frame, key, policy, 0)
}

// QueueEventAt is QueueEvent for an event published at published (Unix
// nanoseconds on Options.Now's clock; 0 for unknown): the write that sends
// the frame then counts towards the publish→write latency (WriteLatency).
func (c *Conn) QueueEventAt(frame []byte, key uint64, policy int, published int64) (ok, first bool, dropped int) {
	if len(frame) == 0 {
		return true, false, 0 // nothing to write; an empty entry would break writev's bookkeeping
	}
	c.mu.Lock()
	if c.dead || c.closeCode != 0 {
		c.mu.Unlock()
		return false, false, 0
	}
	first = c.q.empty()
	e := newEntry(frame, key, policy)
	e.at = published
	ok, dropped, replaced := c.q.add(e, c.srv.lim().WriteQueueBytes)
	if !ok {
		c.overflowLocked()
		c.mu.Unlock()
		c.schedule(pendClose)
		return false, false, 0
	}
	c.mu.Unlock()
	if dropped != 0 {
		c.srv.stats.dropped.Add(uint64(dropped))
	}
	if replaced != 0 {
		c.srv.stats.conflated.Add(uint64(replaced))
	}
	return true, first, dropped + replaced
}

// Flush schedules a worker to write the queue: at once when the
// connection was not flushed within Options.FlushDelay, otherwise when that
// delay has passed, together with whatever is queued until then (see
// coalescer). Send, Close, pings and replies never wait. Safe from any
// goroutine.
func (c *Conn) Flush() {
	k := c.srv.coalesce
	if k.delay == 0 {
		c.schedule(pendWrite)
		return
	}
	k.flush(c, c.srv.now())
}

// Close starts the closing handshake with code and reason: frames already
// queued are sent first, then the close frame; the socket is closed once the
// peer answers or Options.CloseTimeout passes. Safe from any goroutine;
// later calls are no-ops.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	if c.dead || c.closeCode != 0 {
		c.mu.Unlock()
		return
	}
	c.queueCloseLocked(code, reason)
	c.mu.Unlock()
	c.schedule(pendClose)
}

// RemoteAddr is the peer's address: the TCP address accept gave, or, for
// a listener of another kind (admitConn), its net.Conn's.
func (c *Conn) RemoteAddr() net.Addr {
	if c.raddr.kind == peerNone {
		if nc := c.srv.netConn(c); nc != nil {
			return nc.RemoteAddr()
		}
	}
	return net.TCPAddrFromAddrPort(c.remote())
}

// addr is the client's address as the per-address cap counts it: IPv4-mapped
// addresses unmapped, so that one client counts once.
func (c *Conn) addr() netip.Addr { return c.remote().Addr().Unmap() }

// closeSocket releases the descriptor; only the worker running c calls it.
func (c *Conn) closeSocket() {
	c.forgetZone()
	if nc, ok := c.srv.netConns.LoadAndDelete(c); ok {
		_ = nc.(net.Conn).Close()
		return
	}
	_ = syscall.Close(c.Fd())
}

// Fd is the socket's file descriptor, for diagnostics and tests.
func (c *Conn) Fd() int { return int(c.fd) }

// overflowLocked drops what the slow client has not started to receive and
// queues a CloseSlowConsumer frame. Frames a write has started on are kept
// whole (see writeQueue): cutting one would put the close frame inside it.
func (c *Conn) overflowLocked() {
	c.q.cut()
	c.srv.stats.slowClosed.Add(1)
	c.queueCloseLocked(CloseSlowConsumer, "slow consumer: write queue full")
}

func (c *Conn) queueCloseLocked(code int, reason string) {
	c.srv.stats.closes.add(code)
	c.closeCode = int32(code)
	c.q.push(entry{b: closeFrame(code, reason)})
}

// schedule records pending work and puts the connection on the run queue
// unless it is there already.
func (c *Conn) schedule(bits uint32) {
	c.pending.Or(bits)
	if c.queued.CompareAndSwap(false, true) {
		c.srv.runq <- c
	}
}

// onEvent is the epoll callback, run on the epoll goroutine: it only records
// what happened. Events can be stale (the fd may have been reused), so they
// never decide anything; the following read or write does.
func (c *Conn) onEvent(ev mepoll.EpollEvent) {
	var bits uint32
	if ev&(mepoll.EPOLLIN|mepoll.EPOLLRDHUP|mepoll.EPOLLHUP|mepoll.EPOLLERR) != 0 {
		bits |= pendRead
	}
	if ev&(mepoll.EPOLLRDHUP|mepoll.EPOLLHUP|mepoll.EPOLLERR) != 0 {
		bits |= pendHup
	}
	if ev&mepoll.EPOLLOUT != 0 && (bits != 0 || c.QueuedBytes() != 0) {
		// Writable with nothing queued needs no turn: a Send that queues
		// onto an empty queue schedules its own flush, and a write that
		// met a full socket leaves its bytes queued, so this edge finds
		// them. (Registering reports every socket writable at once.)
		bits |= pendWrite
	}
	if bits != 0 {
		c.schedule(bits)
	}
}

// SetID names the connection in the transport's log lines ("conn"), with
// the id the Handler's session announces to the client, so that one
// client's lines from the transport and from the core join up. Call it
// from Handler.Accept.
func (c *Conn) SetID(id string) { c.id = id }
