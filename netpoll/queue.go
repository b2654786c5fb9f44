package netpoll

import (
	"slices"
	"syscall"
)

// entry is one whole frame in a write queue. key and policy are what
// QueueEvent was given; key 0 marks a frame that is never dropped or
// replaced (replies, pongs, close frames, handshake responses).
type entry struct {
	b      []byte
	key    uint64
	at     int64 // when the event was published (Unix ns; QueueEventAt), 0 when unknown
	policy uint8
	notice bool   // a missed notice (QueueMissed), merged with the next one while it waits
	count  uint32 // for a notice: the dropped events it reports
}

// writeQueue is a connection's queue of whole frames, guarded by Conn.mu.
//
// The first keep entries are fixed: a writev running without the lock points
// at them, or out[0] is partly written. They go out as they are, because the
// bytes writev reports are taken from the front of the queue; dropping or
// replacing one of them would tear a frame, or count another frame's bytes
// as written. Everything behind them may be dropped or replaced.
//
// The counts are int32, which keeps Conn in its size class (TestConnSize):
// a queue holds at most twice its bound (see room), which is at most
// maxQueueBound (Options.withDefaults and FrameQueue see to it), plus a few
// frames that are never refused (a close frame, a handshake response, a
// notice's grant, an adopted connection's output, which Adopt bounds
// likewise).
type writeQueue struct {
	out      []entry
	head     int32 // bytes of out[0] already written
	keep     int32 // leading entries that must stay as they are (see above)
	bytes    int32 // queued bytes not yet written
	inflight int32 // of those, the bytes a running writev was given
	grant    int32 // bytes the next frame without a key may take beyond the room (see add)
	stale    bool  // a PolicyLatest frame was appended while its key's frame was fixed
	idle     bool  // empty, and nothing pushed since the last trim
}

// maxQueueBound is the largest bound a write queue takes (Options.WriteQueueBytes,
// FrameQueue.Add); a larger one counts as this. Twice it, plus the frames
// that are never refused, stays far within writeQueue's int32 counts.
const maxQueueBound = 256 << 20

// room is how many more bytes the queue takes within bound. The bytes a
// running writev was given are leaving and do not count: otherwise a drop
// policy would find nothing to drop, and close the connection, whenever the
// worker happens to be writing a full queue. They do count towards a hard
// cap of twice the bound, so that a client taking a little of each write
// cannot make its queue grow without end.
func (q *writeQueue) room(bound int) int {
	return min(bound-int(q.bytes-q.inflight), 2*bound-int(q.bytes))
}

func (q *writeQueue) empty() bool { return len(q.out) == 0 }

// push appends e.
func (q *writeQueue) push(e entry) {
	q.out = append(q.out, e)
	q.bytes += int32(len(e.b))
	q.idle = false
}

// reserve makes room for n more entries without a new array.
func (q *writeQueue) reserve(n int) { q.out = slices.Grow(q.out, n) }

// pushFront puts b before everything queued. Only the handshake uses it,
// before the first write, so nothing is fixed yet. In place when the array
// has room; otherwise one allocation (a new one-entry slice appended to
// cost two, the welcome already queued behind it).
func (q *writeQueue) pushFront(b []byte) {
	q.out = slices.Insert(q.out, 0, entry{b: b})
	q.bytes += int32(len(b))
	q.idle = false
}

// trim lets go of the entry array of a queue that stayed empty since the
// previous call. The sweeper calls it once per pass (Server.trimQueue), so
// that an idle connection holds no array, while a connection written more
// often than that keeps its array: a broadcast allocates nothing per
// delivery. Letting go as soon as the queue drains would cost every
// delivery an allocation.
func (q *writeQueue) trim() {
	switch {
	case len(q.out) > 0 || cap(q.out) == 0:
	case !q.idle:
		q.idle = true // push clears it
	default:
		q.out, q.idle = nil, false
	}
}

// fill points iov at the queued bytes, fixes the entries it covers until
// the matching consume, and returns how many iovecs it filled and their
// total length.
func (q *writeQueue) fill(iov []syscall.Iovec) (n, total int) {
	k := 0
	for ; k < len(q.out) && n < len(iov); k++ {
		f := q.out[k].b
		if k == 0 {
			f = f[q.head:]
		}
		if len(f) == 0 {
			continue // never queued (Queue refuses them); a guard, not a path
		}
		iov[n].Base = &f[0]
		iov[n].SetLen(len(f))
		n++
		total += len(f)
	}
	q.keep, q.inflight = int32(k), int32(total)
	return n, total
}

// consume drops written bytes from the front of the queue and releases the
// entries fill fixed; a writev that wrote nothing (EAGAIN) consumes 0. It
// returns how many PolicyLatest frames it replaced (see collapse), and the
// earliest publish time among the event frames it finished writing (0 for
// none), for the latency histogram.
func (q *writeQueue) consume(written int) (replaced int, oldest int64) {
	k := 0
	for k < len(q.out) && written > 0 {
		rem := len(q.out[k].b) - int(q.head)
		if written < rem {
			q.head += int32(written)
			q.bytes -= int32(written)
			break
		}
		written -= rem
		q.bytes -= int32(rem)
		q.head = 0
		if at := q.out[k].at; at != 0 && (oldest == 0 || at < oldest) {
			oldest = at
		}
		k++
	}
	n := copy(q.out, q.out[k:])
	clear(q.out[n:])
	q.out = q.out[:n]
	released := int(q.keep) - k
	q.keep = min(q.head, 1) // a partly written frame stays fixed
	q.inflight = 0
	if q.stale && released > int(q.keep) {
		replaced = q.collapse(int(q.keep), released)
	}
	q.stale = false
	if n == 0 && cap(q.out) > 64 {
		q.out = nil // a burst is over: give the big array back
	}
	return replaced, oldest
}

// cut drops every entry that is not fixed: what the slow client has not
// started to receive.
func (q *writeQueue) cut() {
	for _, e := range q.out[q.keep:] {
		q.bytes -= int32(len(e.b))
	}
	clear(q.out[q.keep:])
	q.out = q.out[:q.keep]
}

// reset empties the queue of a closed socket.
func (q *writeQueue) reset() {
	clear(q.out)
	*q = writeQueue{}
}
