package daemon

// entry is one event kept for recovery: the encoded frame exactly as it was
// sent live, so a replay re-encodes nothing.
type entry struct {
	frame  []byte
	offset uint64
	at     int64 // UnixNano of the publish
}

// history is a channel's recent events, oldest first. Its offsets are always
// consecutive, ending at the channel's current offset: every publish
// appends, and trimming only ever removes from the front.
//
// A channel without events keeps only a nil pointer: the ring and its
// counters (historyRing) are allocated at the first event kept and
// dropped with the last, so that the channel of a held subscription
// (most have no history) stays small.
type history struct{ r *historyRing }

// historyRing is a history that holds events.
//
// bytes is the heap the history really holds, what history.max_bytes
// bounds: each frame's allocation (its capacity, rounded up to the
// allocator's size class), the ring's backing array, the historyRing
// itself, and fixed: the channel's own cost, since a channel with history
// stays alive for it. Counting frame lengths alone undercounted ~1.7× for
// 250-byte events.
//
// The ring, not its channel, is what the node's history LRU links
// (historyLRU): only channels with history are in it, so the links cost
// the many channels without any nothing. owner, prev, next and inLRU are
// the LRU's, guarded by its lock (owner is set once, before the ring is
// linked); the rest is guarded by the owner's lock.
type historyRing struct {
	ring   []entry // capacity grows to the channel's HistorySize
	head   int     // index of the oldest entry
	n      int
	frames int // allocBytes of the frames held
	fixed  int // channelBytes of the owning channel
	bytes  int

	owner      *channel
	prev, next *historyRing
	inLRU      bool
}

// held is the heap the history accounts for (see historyRing).
func (r *historyRing) held() int {
	return r.frames + allocBytes(cap(r.ring)*entryBytes) + historyRingBytes + r.fixed
}

// update recomputes bytes and returns the change.
func (r *historyRing) update() int {
	before := r.bytes
	r.bytes = r.held()
	return r.bytes - before
}

func (h *history) len() int {
	if h.r == nil {
		return 0
	}
	return h.r.n
}

// push appends e, evicting the oldest entry when size entries are kept; it
// returns the change in bytes held. h must hold a ring (channel.keepEntry
// allocates the first).
func (h *history) push(e entry, size int) int {
	r := h.r
	if r.n == size {
		r.popFront()
	}
	r.frames += allocBytes(cap(e.frame))
	if len(r.ring) < size && r.n == len(r.ring) {
		// Grow by appending while below size: a channel with a few events
		// does not pay for a full ring.
		r.linearize()
		r.ring = append(r.ring, e)
		r.n++
		return r.update()
	}
	r.ring[(r.head+r.n)%len(r.ring)] = e
	r.n++
	return r.update()
}

// linearize moves the entries to the ring's start so that append keeps
// them in order.
func (r *historyRing) linearize() {
	if r.head == 0 {
		return
	}
	out := make([]entry, r.n, max(len(r.ring), 1))
	for i := range r.n {
		out[i] = r.at(i)
	}
	r.ring, r.head = out, 0
}

// at returns the i-th entry, oldest first; i < len().
func (h *history) at(i int) entry { return h.r.at(i) }

func (r *historyRing) at(i int) entry { return r.ring[(r.head+i)%len(r.ring)] }

// popFront removes the oldest entry; the caller updates bytes.
func (r *historyRing) popFront() {
	e := &r.ring[r.head]
	r.frames -= allocBytes(cap(e.frame))
	*e = entry{}
	r.head = (r.head + 1) % len(r.ring)
	r.n--
}

// trimOlder drops the entries published before cutoff (UnixNano) and
// returns the bytes freed.
func (h *history) trimOlder(cutoff int64) int {
	r := h.r
	if r == nil {
		return 0
	}
	for r.n > 0 && r.ring[r.head].at < cutoff {
		r.popFront()
	}
	if r.n == 0 {
		return h.clear() // nothing left: nor its ring
	}
	return -r.update()
}

// clear drops every entry and returns the bytes freed.
func (h *history) clear() int {
	if h.r == nil {
		return 0
	}
	freed := h.r.bytes
	h.r = nil
	return freed
}

// since returns how to replay the events after offset, given the channel's
// current offset: ok is false when some of them are no longer kept (or the
// offset is in the future), and then nothing must be replayed.
func (h *history) since(offset, current uint64) (from int, ok bool) {
	oldest := current + 1 - uint64(h.len())
	if offset > current || offset+1 < oldest {
		return 0, false
	}
	return int(offset + 1 - oldest), true
}
