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
// bytes is the heap the history really holds, what history.max_bytes
// bounds: each frame's allocation (its capacity, rounded up to the
// allocator's size class), the ring's backing array, and, while there is
// a ring, fixed: the channel's own cost, since a channel with history
// stays alive for it. Counting frame lengths alone undercounted ~1.7× for
// 250-byte events.
type history struct {
	ring   []entry // capacity grows to the channel's HistorySize
	head   int     // index of the oldest entry
	n      int
	frames int // allocBytes of the frames held
	fixed  int // channelBytes of the owning channel
	bytes  int
}

// held is the heap the history accounts for (see history).
func (h *history) held() int {
	if h.ring == nil {
		return 0
	}
	return h.frames + allocBytes(cap(h.ring)*entryBytes) + h.fixed
}

// update recomputes bytes and returns the change.
func (h *history) update() int {
	before := h.bytes
	h.bytes = h.held()
	return h.bytes - before
}

func (h *history) len() int { return h.n }

// push appends e, evicting the oldest entry when size entries are kept; it
// returns the change in bytes held.
func (h *history) push(e entry, size int) int {
	if h.n == size {
		h.popFront()
	}
	h.frames += allocBytes(cap(e.frame))
	if len(h.ring) < size && h.n == len(h.ring) {
		// Grow by appending while below size: a channel with a few events
		// does not pay for a full ring.
		h.linearize()
		h.ring = append(h.ring, e)
		h.n++
		return h.update()
	}
	h.ring[(h.head+h.n)%len(h.ring)] = e
	h.n++
	return h.update()
}

// linearize moves the entries to the ring's start so that append keeps
// them in order.
func (h *history) linearize() {
	if h.head == 0 {
		return
	}
	out := make([]entry, h.n, max(len(h.ring), 1))
	for i := range h.n {
		out[i] = h.at(i)
	}
	h.ring, h.head = out, 0
}

func (h *history) at(i int) entry { return h.ring[(h.head+i)%len(h.ring)] }

// popFront removes the oldest entry; the caller updates bytes.
func (h *history) popFront() {
	e := &h.ring[h.head]
	h.frames -= allocBytes(cap(e.frame))
	*e = entry{}
	h.head = (h.head + 1) % len(h.ring)
	h.n--
}

// trimOlder drops the entries published before cutoff (UnixNano) and
// returns the bytes freed.
func (h *history) trimOlder(cutoff int64) int {
	for h.n > 0 && h.ring[h.head].at < cutoff {
		h.popFront()
	}
	if h.n == 0 {
		h.ring, h.head = nil, 0 // nothing left: nor its ring
	}
	return -h.update()
}

// clear drops every entry and returns the bytes freed.
func (h *history) clear() int {
	freed := h.bytes
	h.ring, h.head, h.n, h.frames, h.bytes = nil, 0, 0, 0, 0
	return freed
}

// since returns how to replay the events after offset, given the channel's
// current offset: ok is false when some of them are no longer kept (or the
// offset is in the future), and then nothing must be replayed.
func (h *history) since(offset, current uint64) (from int, ok bool) {
	oldest := current + 1 - uint64(h.n)
	if offset > current || offset+1 < oldest {
		return 0, false
	}
	return int(offset + 1 - oldest), true
}
