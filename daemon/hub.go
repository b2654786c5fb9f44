package daemon

import (
	"hash/maphash"
	"sync"
)

const hubShards = 64

// hub maps channel names to their subscribers. The map is sharded so that
// subscribes to different channels rarely share a lock.
type hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
}

type hubShard struct {
	mu    sync.RWMutex
	chans map[string]*channel
}

// channel is one channel's subscriber set. mu is held while an event is
// enqueued to all of them and while a subscriber is added or removed.
type channel struct {
	name string
	mu   sync.Mutex
	subs []*subscription
	dead bool // removed from the hub; a subscriber must look it up again
}

// subscription is one session's membership in one channel; idx is its
// position in channel.subs, kept current for O(1) removal.
type subscription struct {
	s   *Session
	ch  *channel
	idx int
}

func newHub() *hub {
	h := &hub{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].chans = make(map[string]*channel)
	}
	return h
}

func (h *hub) shard(name string) *hubShard {
	return &h.shards[maphash.String(h.seed, name)%hubShards]
}

// lookup returns the channel or nil when nobody is subscribed to it.
func (h *hub) lookup(name string) *channel {
	sh := h.shard(name)
	sh.mu.RLock()
	ch := sh.chans[name]
	sh.mu.RUnlock()
	return ch
}

// add subscribes s to name and runs then under the channel lock, so that
// nothing published to the channel can overtake what then sends.
func (h *hub) add(name string, s *Session, then func()) *subscription {
	for {
		ch := h.lookup(name)
		if ch == nil {
			ch = h.create(name)
		}
		ch.mu.Lock()
		if ch.dead {
			ch.mu.Unlock()
			continue
		}
		sub := &subscription{s: s, ch: ch, idx: len(ch.subs)}
		ch.subs = append(ch.subs, sub)
		then()
		ch.mu.Unlock()
		return sub
	}
}

func (h *hub) create(name string) *channel {
	sh := h.shard(name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch := sh.chans[name]
	if ch == nil {
		ch = &channel{name: name}
		sh.chans[name] = ch
	}
	return ch
}

// remove takes sub out of its channel and drops the channel when it empties.
func (h *hub) remove(sub *subscription) {
	ch := sub.ch
	ch.mu.Lock()
	last := len(ch.subs) - 1
	moved := ch.subs[last]
	ch.subs[sub.idx] = moved
	moved.idx = sub.idx
	ch.subs[last] = nil
	ch.subs = ch.subs[:last]
	empty := last == 0
	ch.mu.Unlock()
	if empty {
		h.dropIfEmpty(ch)
	}
}

func (h *hub) dropIfEmpty(ch *channel) {
	sh := h.shard(ch.name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if len(ch.subs) == 0 && !ch.dead {
		ch.dead = true
		delete(sh.chans, ch.name)
	}
}

// channels counts the channels with at least one subscriber.
func (h *hub) channels() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		n += len(sh.chans)
		sh.mu.RUnlock()
	}
	return n
}
