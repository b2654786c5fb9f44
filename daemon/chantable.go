package daemon

import "hash/maphash"

// chanTable is a hub shard's channels by name: an open-addressing hash
// table (linear probing, deletion by backward shift, no tombstones) of
// channel pointers, keyed by each channel's own name. It replaces a
// map[string]*channel, whose slots held a copy of the name's header
// beside the pointer: ~46 bytes per channel at 9,000 channels, against 8
// bytes a slot here at a load between 3/16 and 3/4. A probe reads the
// channel's name, which the lookup's caller reads anyway.
//
// The caller hashes the name with the hub's seed; the low shardBits of
// the hash chose the shard, the next ones choose the slot. Guarded by the
// shard's lock.
type chanTable struct {
	slots []*channel // nil, or a power of two long
	n     int
}

const minTableSlots = 8

func (t *chanTable) home(h uint64) uint64 { return h >> shardBits & uint64(len(t.slots)-1) }

func (t *chanTable) next(i uint64) uint64 { return (i + 1) & uint64(len(t.slots)-1) }

// get returns the channel called name, hashed h, or nil.
func (t *chanTable) get(h uint64, name string) *channel {
	if t.n == 0 {
		return nil
	}
	for i := t.home(h); ; i = t.next(i) {
		if ch := t.slots[i]; ch == nil || ch.name == name {
			return ch
		}
	}
}

// set makes ch the channel called ch.name, hashed h, replacing any other
// of that name, as a map assignment does.
func (t *chanTable) set(seed maphash.Seed, h uint64, ch *channel) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(seed, max(minTableSlots, 2*len(t.slots)))
	}
	for i := t.home(h); ; i = t.next(i) {
		switch c := t.slots[i]; {
		case c == nil:
			t.slots[i] = ch
			t.n++
			return
		case c.name == ch.name:
			t.slots[i] = ch
			return
		}
	}
}

// remove takes ch, hashed h, out, if it is in.
func (t *chanTable) remove(seed maphash.Seed, h uint64, ch *channel) {
	if t.n == 0 {
		return
	}
	i := t.home(h)
	for t.slots[i] != ch {
		if t.slots[i] == nil {
			return
		}
		i = t.next(i)
	}
	// Move back each following entry of the run that may sit at i (its
	// home is not cyclically in (i, j]), so that no probe meets a hole
	// before its entry.
	for j := t.next(i); t.slots[j] != nil; j = t.next(j) {
		k := t.home(maphash.String(seed, t.slots[j].name))
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	if len(t.slots) > minTableSlots && t.n*16 <= len(t.slots)*3 {
		t.resize(seed, len(t.slots)/2) // a burst of channels gone: give back its slots
	}
}

// resize moves the channels to a table of size slots.
func (t *chanTable) resize(seed maphash.Seed, size int) {
	old := t.slots
	t.slots = make([]*channel, size)
	for _, ch := range old {
		if ch == nil {
			continue
		}
		i := t.home(maphash.String(seed, ch.name))
		for t.slots[i] != nil {
			i = t.next(i)
		}
		t.slots[i] = ch
	}
}

// each calls f for every channel.
func (t *chanTable) each(f func(*channel)) {
	for _, ch := range t.slots {
		if ch != nil {
			f(ch)
		}
	}
}
