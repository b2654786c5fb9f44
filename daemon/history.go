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
type history struct {
	ring  []entry // capacity grows to the channel's HistorySize
	head  int     // index of the oldest entry
	n     int
	bytes int
}

func (h *history) len() int { return h.n }

// push appends e, evicting the oldest entry when size entries are kept; it
// returns the change in bytes held.
func (h *history) push(e entry, size int) int {
	delta := len(e.frame)
	if h.n == size {
		delta -= h.popFront()
	}
	if len(h.ring) < size && h.n == len(h.ring) {
		// Grow by appending while below size: a channel with a few events
		// does not pay for a full ring.
		h.linearize()
		h.ring = append(h.ring, e)
		h.n++
		h.bytes += len(e.frame)
		return delta
	}
	h.ring[(h.head+h.n)%len(h.ring)] = e
	h.n++
	h.bytes += len(e.frame)
	return delta
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

// popFront removes the oldest entry and returns its size.
func (h *history) popFront() int {
	e := &h.ring[h.head]
	size := len(e.frame)
	*e = entry{}
	h.head = (h.head + 1) % len(h.ring)
	h.n--
	h.bytes -= size
	return size
}

// trimOlder drops the entries published before cutoff (UnixNano) and
// returns the bytes freed.
func (h *history) trimOlder(cutoff int64) int {
	freed := 0
	for h.n > 0 && h.ring[h.head].at < cutoff {
		freed += h.popFront()
	}
	return freed
}

// clear drops every entry and returns the bytes freed.
func (h *history) clear() int {
	freed := h.bytes
	h.ring, h.head, h.n, h.bytes = nil, 0, 0, 0
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
