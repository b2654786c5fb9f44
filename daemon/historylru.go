package daemon

import "sync"

// historyLRU orders the channels that hold history by their latest
// publish, so that at Options.HistoryMaxBytes the history of the channel
// published to least recently goes first. It links the histories' rings
// (historyRing), not the channels: the many channels without history pay
// nothing for it. A ring leaves the LRU before its channel drops it
// (unlink), so the LRU never keeps a dropped ring, nor its channel, alive.
// Lock order: channel → LRU; the evictor takes a channel's lock only after
// releasing the LRU's.
type historyLRU struct {
	mu         sync.Mutex
	head, tail *historyRing // head: published to most recently
}

// touch moves r to the front; r may be nil (no history). Called with
// r.owner.mu held.
func (l *historyLRU) touch(r *historyRing) {
	if r == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.head == r {
		return
	}
	l.unlinkLocked(r)
	r.prev, r.next, r.inLRU = nil, l.head, true
	if l.head != nil {
		l.head.prev = r
	}
	l.head = r
	if l.tail == nil {
		l.tail = r
	}
}

// unlink takes r out, if it is in; r may be nil (no history). Called with
// r.owner.mu held, before the channel drops r.
func (l *historyLRU) unlink(r *historyRing) {
	if r == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unlinkLocked(r)
}

func (l *historyLRU) unlinkLocked(r *historyRing) {
	if !r.inLRU {
		return
	}
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		l.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		l.tail = r.prev
	}
	r.prev, r.next, r.inLRU = nil, nil, false
}

// popOldest unlinks and returns the least recently published history, nil
// when there is none.
func (l *historyLRU) popOldest() *historyRing {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.tail
	if r != nil {
		l.unlinkLocked(r)
	}
	return r
}

// evictHistory drops whole channel histories, least recently published
// first, until the total is within Options.HistoryMaxBytes. Clients of an
// evicted channel get "recovered": false on their next recovery. Called
// with no channel lock held.
func (n *Node) evictHistory() {
	for n.histBytes.Load() > n.set().HistoryMaxBytes {
		r := n.lru.popOldest()
		if r == nil {
			return
		}
		ch := r.owner
		ch.mu.Lock()
		if ch.hist.r != r {
			// Dropped, and maybe replaced, between the pop and the lock:
			// a newer history is not the oldest.
			ch.mu.Unlock()
			continue
		}
		n.dropHistory(ch) // out of the LRU again: a publish may have touched it since the pop
		unused := ch.unused()
		ch.mu.Unlock()
		n.histEvictions.Add(1)
		if unused {
			n.hub.dropIfUnused(ch)
		}
	}
}

// dropHistory drops ch's whole history and its count in the node's total,
// taking its ring out of the LRU first, so that the LRU never keeps a
// dropped ring (nor its channel) alive. Called with ch.mu held.
func (n *Node) dropHistory(ch *channel) {
	n.lru.unlink(ch.hist.r)
	n.histBytes.Add(-int64(ch.hist.clear()))
}
