package daemon

import "sync"

// lruLinks place a channel in the history LRU; whether it is in is
// channel.inLRU, kept with the channel's other flags.
type lruLinks struct {
	prev, next *channel
}

// historyLRU orders the channels that hold history by their latest
// publish, so that at Options.HistoryMaxBytes the history of the channel
// published to least recently goes first. Lock order: channel → LRU; the
// evictor takes a channel's lock only after releasing the LRU's.
type historyLRU struct {
	mu         sync.Mutex
	head, tail *channel // head: published to most recently
}

// touch moves ch to the front. Called with ch.mu held.
func (l *historyLRU) touch(ch *channel) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.head == ch {
		return
	}
	l.unlinkLocked(ch)
	ch.lru, ch.inLRU = lruLinks{next: l.head}, true
	if l.head != nil {
		l.head.lru.prev = ch
	}
	l.head = ch
	if l.tail == nil {
		l.tail = ch
	}
}

// unlink takes ch out, if it is in. Called with ch.mu held.
func (l *historyLRU) unlink(ch *channel) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unlinkLocked(ch)
}

func (l *historyLRU) unlinkLocked(ch *channel) {
	if !ch.inLRU {
		return
	}
	if ch.lru.prev != nil {
		ch.lru.prev.lru.next = ch.lru.next
	} else {
		l.head = ch.lru.next
	}
	if ch.lru.next != nil {
		ch.lru.next.lru.prev = ch.lru.prev
	} else {
		l.tail = ch.lru.prev
	}
	ch.lru, ch.inLRU = lruLinks{}, false
}

// popOldest unlinks and returns the least recently published channel, nil
// when there is none.
func (l *historyLRU) popOldest() *channel {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := l.tail
	if ch != nil {
		l.unlinkLocked(ch)
	}
	return ch
}

// evictHistory drops whole channel histories, least recently published
// first, until the total is within Options.HistoryMaxBytes. Clients of an
// evicted channel get "recovered": false on their next recovery. Called
// with no channel lock held.
func (n *Node) evictHistory() {
	for n.histBytes.Load() > n.set().HistoryMaxBytes {
		ch := n.lru.popOldest()
		if ch == nil {
			return
		}
		ch.mu.Lock()
		freed := ch.hist.clear()
		unused := ch.unused()
		ch.mu.Unlock()
		n.histBytes.Add(-int64(freed))
		n.histEvictions.Add(1)
		if unused {
			n.hub.dropIfUnused(ch)
		}
	}
}
