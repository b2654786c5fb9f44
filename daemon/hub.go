package daemon

import (
	"hash/maphash"
	"slices"
	"sync"
)

// hubShards is 1<<shardBits: the low bits of a name's hash choose its
// shard, the next ones its slot in the shard's table (chanTable).
const (
	shardBits = 6
	hubShards = 1 << shardBits
)

// hub maps channel names to their subscribers. The map is sharded so that
// subscribes to different channels rarely share a lock.
type hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
	// newChannel builds a channel's state (options, epoch) on first use.
	newChannel func(name string) *channel
	// dropped, when set, learns of each channel removed, under the shard
	// and channel locks: it must not block.
	dropped func(*channel)
}

type hubShard struct {
	mu    sync.RWMutex
	chans chanTable
}

// channel is one channel's state: subscribers, position and history. mu is
// held while an event is numbered, kept and enqueued to every subscriber,
// and while a subscriber is added or removed. A channel lives while it has
// subscribers or history; when it is dropped its position is lost, and the
// next incarnation has a new epoch.
//
// A node holds one channel per subscribed name, most with one subscriber
// and no history, so the struct is kept to 112 bytes (an allocator size
// class): a history's ring is allocated with its first event (history)
// and holds the history LRU's links (historyRing), and what only a
// broker's channels use, rarely, is in channelSync.
type channel struct {
	name  string
	opts  *ChannelOptions
	epoch string
	id    uint64 // the transport's key for this channel's frames
	mu    sync.Mutex
	subs  []*subscription
	last  uint64 // offset of the latest event
	hist  history
	sync  *channelSync
	dead  bool // removed from the hub; a subscriber must look it up again
	// pinned: imported from a hand-off with subscribers that have not
	// been resumed yet; kept alive for them, with its position.
	pinned bool
	// With a broker: shared marks the channel as the broker's, linked that
	// the broker delivers it here, syncing that the first subscriber's
	// Broker.Subscribe is under way (channelSync).
	shared, linked, syncing bool
}

// channelSync is the part of a broker's channel that only linking, a
// hand-off's resume and a change of epoch use, allocated at the first
// need (syncState) and guarded by the channel's lock.
type channelSync struct {
	// While syncing, deliveries wait in pending and other subscribers
	// wait for synced to close.
	synced  chan struct{}
	pending []BrokerEvent
	// replay is the last broker replay made for a resumed session
	// (handoff_session.go); dropped at the next delivery.
	replay *replayCache
	// retired holds the last epochs the channel has left, newest last:
	// an event of one of them reaching the node late is dropped, never a
	// reason to go back (broker_node.go).
	retired []string
}

// retiredMax bounds channelSync.retired: a broker loses a channel's data
// rarely, and a late event trails the loss by a round trip at most.
const retiredMax = 4

// retire records that ch has left epoch. Called with ch.mu held.
func (ch *channel) retire(epoch string) {
	s := ch.syncState()
	if len(s.retired) == retiredMax {
		s.retired = append(s.retired[:0], s.retired[1:]...)
	}
	s.retired = append(s.retired, epoch)
}

// isRetired reports whether ch has left epoch. Called with ch.mu held.
func (ch *channel) isRetired(epoch string) bool {
	return ch.sync != nil && slices.Contains(ch.sync.retired, epoch)
}

// syncState returns ch's channelSync, allocated if need be. Called with
// ch.mu held.
func (ch *channel) syncState() *channelSync {
	if ch.sync == nil {
		ch.sync = &channelSync{}
	}
	return ch.sync
}

// keepEntry adds e to ch's history of at most size events and returns the
// change in bytes held. Called with ch.mu held.
func (ch *channel) keepEntry(e entry, size int) int {
	if ch.hist.r == nil {
		// The channel's own cost is counted while there is history.
		ch.hist.r = &historyRing{owner: ch, fixed: channelBytes(ch.name, ch.epoch)}
	}
	return ch.hist.push(e, size)
}

// subscription is one session's membership in one channel; idx is its
// position in channel.subs, kept current for O(1) removal (guarded by the
// channel's lock), and next links the session's subscriptions (subList,
// guarded by the session's ctl).
type subscription struct {
	s    *Session
	ch   *channel
	next *subscription
	idx  int
}

func newHub(newChannel func(string) *channel) *hub {
	return &hub{seed: maphash.MakeSeed(), newChannel: newChannel}
}

// shard returns name's shard and its hash.
func (h *hub) shard(name string) (*hubShard, uint64) {
	sum := maphash.String(h.seed, name)
	return &h.shards[sum%hubShards], sum
}

// lookup returns the channel or nil when it has no state.
func (h *hub) lookup(name string) *channel {
	sh, sum := h.shard(name)
	sh.mu.RLock()
	ch := sh.chans.get(sum, name)
	sh.mu.RUnlock()
	return ch
}

// insert makes ch the channel called ch.name, replacing any other.
func (h *hub) insert(ch *channel) {
	sh, sum := h.shard(ch.name)
	sh.mu.Lock()
	sh.chans.set(h.seed, sum, ch)
	sh.mu.Unlock()
}

// lock returns the live channel called name, created if need be, with its
// lock held.
func (h *hub) lock(name string) *channel {
	for {
		ch := h.lookup(name)
		if ch == nil {
			ch = h.create(name)
		}
		ch.mu.Lock()
		if !ch.dead {
			return ch
		}
		ch.mu.Unlock()
	}
}

// add subscribes s to name and runs then under the channel lock, so that
// nothing published to the channel can overtake what then sends.
func (h *hub) add(name string, s *Session, then func(*channel)) *subscription {
	ch := h.lock(name)
	sub := ch.addLocked(s)
	then(ch)
	ch.mu.Unlock()
	return sub
}

// addLocked adds s to ch's subscribers. Called with ch.mu held.
func (ch *channel) addLocked(s *Session) *subscription {
	sub := &subscription{s: s, ch: ch, idx: len(ch.subs)}
	ch.subs = append(ch.subs, sub)
	return sub
}

func (h *hub) create(name string) *channel {
	sh, sum := h.shard(name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch := sh.chans.get(sum, name)
	if ch == nil {
		ch = h.newChannel(name)
		sh.chans.set(h.seed, sum, ch)
	}
	return ch
}

// remove takes sub out of its channel and drops the channel when it empties.
func (h *hub) remove(sub *subscription) { h.removeSub(sub, true) }

func (h *hub) removeSub(sub *subscription, announce bool) {
	ch := sub.ch
	ch.mu.Lock()
	last := len(ch.subs) - 1
	moved := ch.subs[last]
	ch.subs[sub.idx] = moved
	moved.idx = sub.idx
	ch.subs[last] = nil
	ch.subs = ch.subs[:last]
	if announce {
		sub.s.announce(ch, "leave")
	}
	unused := ch.unused()
	ch.mu.Unlock()
	if unused {
		h.dropIfUnused(ch)
	}
}

// unused reports that the channel has neither subscribers nor history, so
// dropping it loses nothing. Called with ch.mu held.
// With a broker, the local history is only a cache: a channel without
// local subscribers goes, and the broker stops delivering it.
func (ch *channel) unused() bool {
	return len(ch.subs) == 0 && (ch.shared || ch.hist.len() == 0) && !ch.syncing && !ch.pinned
}

// dropIfUnused removes the channel from the hub if it is still unused, and
// reports whether it did.
func (h *hub) dropIfUnused(ch *channel) bool {
	sh, sum := h.shard(ch.name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.unused() && !ch.dead {
		ch.dead = true
		sh.chans.remove(h.seed, sum, ch)
		if h.dropped != nil {
			h.dropped(ch)
		}
		return true
	}
	return false
}

// each calls f for every channel, under its shard's read lock: f must not
// take a shard lock.
func (h *hub) each(f func(*channel)) {
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		sh.chans.each(f)
		sh.mu.RUnlock()
	}
}

// channels counts the channels with at least one subscriber.
func (h *hub) channels() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		n += sh.chans.n
		sh.mu.RUnlock()
	}
	return n
}
