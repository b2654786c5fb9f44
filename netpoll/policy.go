package netpoll

// Slow-consumer policies: what QueueEvent does with an event frame when the
// connection's write queue has no room for it (Options.WriteQueueBytes).
// The constants are untyped so that the core can declare its own with the
// same values instead of importing this package.
const (
	// PolicyDisconnect closes the connection with CloseSlowConsumer, as
	// Queue does: the client reconnects and recovers what it missed.
	PolicyDisconnect = 0
	// PolicyDropOldest drops the oldest queued event frames, of any key and
	// policy, until the frame fits with room for a notice (missedRoom), and
	// reports how many it dropped so that the caller can tell the client
	// what it missed. Frames queued without a key (replies, pongs, close
	// frames) and frames a write has started on are never dropped; when
	// dropping every other event frame still leaves no room, the connection
	// is closed as with PolicyDisconnect.
	PolicyDropOldest = 1
	// PolicyLatest conflates: a frame replaces the waiting frame of the same
	// key queued with PolicyLatest, taking its place in the queue, so at
	// most one frame per key waits (for dashboards and tickers, where only
	// the newest value matters). Without such a frame it is appended. A
	// frame that has started to go out is not waiting: the new one is
	// appended behind it (should that write stop short, the new frame takes
	// the old one's place then). When the frame does not fit even in place
	// of the old one, the old one is removed and the frame is queued as with
	// PolicyDropOldest.
	PolicyLatest = 2
)

// missedRoom is what PolicyDropOldest frees beyond the frame itself once it
// has to drop: the caller queues a short "missed" notice right after, and
// that notice must not overflow the queue that was just made room in. 512
// bytes hold a notice naming a channel of the core's maximal length. The
// room can vanish before the notice comes, when the room counted on a
// running write that then stopped short: the next frame without a key is
// granted as much beyond the bound, so the notice never closes the
// connection.
const missedRoom = 512

// newEntry is QueueEvent's frame as queued: a frame without a key, or with
// a policy this package does not know, is queued under PolicyDisconnect.
func newEntry(frame []byte, key uint64, policy int) entry {
	e := entry{b: frame, key: key, policy: PolicyDisconnect}
	if key != 0 && (policy == PolicyDropOldest || policy == PolicyLatest) {
		e.policy = uint8(policy)
	}
	return e
}

// add queues e (made by newEntry) within bound according to its policy. It
// returns how many queued frames it dropped for room and how many it
// replaced by e (0 or 1). ok is false when e did not fit even after the
// drops its policy allows; the caller then closes the connection. bound is
// at most maxQueueBound: Options.withDefaults and FrameQueue see to it.
func (q *writeQueue) add(e entry, bound int) (ok bool, dropped, replaced int) {
	grant := int(q.grant)
	q.grant = 0 // only for the frame right after the drops
	if e.key == 0 && len(e.b) <= grant {
		q.push(e)
		return true, 0, 0
	}
	if e.policy == PolicyLatest {
		if i := q.find(e.key, int(q.keep), len(q.out)); i >= 0 {
			old := len(q.out[i].b)
			if len(e.b)-old <= q.room(bound) {
				q.out[i] = e
				q.bytes += int32(len(e.b) - old)
				return true, 0, 1
			}
			q.remove(i)
			replaced = 1
		} else if q.find(e.key, int(min(q.head, 1)), int(q.keep)) >= 0 {
			q.stale = true // its key's frame is being written: see consume
		}
	}
	if len(e.b) > q.room(bound) && e.policy != PolicyDisconnect {
		dropped = q.dropOldest(len(e.b)+missedRoom, bound)
		q.grant = missedRoom
	}
	if len(e.b) > q.room(bound) {
		return false, dropped, replaced
	}
	q.push(e)
	return true, dropped, replaced
}

// find returns the index of the last frame in out[lo:hi] queued with
// PolicyLatest for key, or -1. The search is linear in the queue's length:
// queues are short unless their client is slow, and then each replaced frame
// is one the client does not have to read.
func (q *writeQueue) find(key uint64, lo, hi int) int {
	for i := hi - 1; i >= lo; i-- {
		if e := &q.out[i]; e.key == key && e.policy == PolicyLatest {
			return i
		}
	}
	return -1
}

// collapse runs when a short write releases out[lo:hi], frames it had
// fixed: a PolicyLatest frame among them whose key got a newer frame
// meanwhile (appended behind, since the old one could not be replaced then)
// is replaced by that newer frame now, which keeps at most one waiting frame
// per key. It returns how many frames it replaced.
func (q *writeQueue) collapse(lo, hi int) (replaced int) {
	for i := lo; i < hi; i++ {
		if q.out[i].policy != PolicyLatest {
			continue
		}
		if j := q.find(q.out[i].key, hi, len(q.out)); j >= 0 {
			newer := q.out[j]
			q.remove(j)
			q.bytes += int32(len(newer.b) - len(q.out[i].b))
			q.out[i] = newer
			replaced++
		}
	}
	return replaced
}

// remove takes out[i] out of the queue; i must not be fixed.
func (q *writeQueue) remove(i int) {
	q.bytes -= int32(len(q.out[i].b))
	copy(q.out[i:], q.out[i+1:])
	q.out[len(q.out)-1] = entry{}
	q.out = q.out[:len(q.out)-1]
}

// dropOldest drops event frames that are not fixed, oldest first, until the
// queue has room for want more bytes or none is left, in one pass that keeps the
// order of the rest. It returns how many it dropped. Every byte dropped adds
// one to both terms of room, so the room is counted once, not per frame.
func (q *writeQueue) dropOldest(want, bound int) (dropped int) {
	short, freed := want-q.room(bound), 0
	j := int(q.keep)
	for i := j; i < len(q.out); i++ {
		e := q.out[i]
		if e.key != 0 && freed < short {
			freed += len(e.b)
			dropped++
			continue
		}
		q.out[j] = e
		j++
	}
	q.bytes -= int32(freed)
	clear(q.out[j:])
	q.out = q.out[:j]
	return dropped
}

// QueueMissed is Queue for the notice that tells the client count events
// were dropped for room (QueueEvent's dropped, PolicyDropOldest). While an
// earlier notice still waits in the queue, that one is replaced in its
// place by build(its count + count) instead of queueing another: a stalled
// client holds at most one waiting notice. build must return a new frame
// each call; it runs with the connection's lock held, so it must not call
// back into the connection. Call it right after the QueueEvent that
// dropped, as with Queue.
func (c *Conn) QueueMissed(count int, build func(total int) []byte) (ok, first bool) {
	c.mu.Lock()
	if c.dead || c.closeCode != 0 {
		c.mu.Unlock()
		return false, false
	}
	first = c.q.empty()
	if !c.q.addMissed(count, build, c.srv.lim().WriteQueueBytes) {
		c.overflowLocked()
		c.mu.Unlock()
		c.schedule(pendClose)
		return false, false
	}
	c.mu.Unlock()
	return true, first
}

// addMissed queues the notice for count events just dropped: build makes
// its frame for a total. While an earlier notice waits (not yet fixed by a
// write), that one is rebuilt in its place with the sum instead, so a
// stalled client holds at most one waiting notice however many drops it
// suffers, and reads one count for all of them. The notice takes the room
// the drop left (grant), as a frame without a key does. ok is false when it
// does not fit.
func (q *writeQueue) addMissed(count int, build func(total int) []byte, bound int) bool {
	grant := int(q.grant)
	q.grant = 0
	for i := len(q.out) - 1; i >= int(q.keep); i-- {
		if e := &q.out[i]; e.notice {
			total := int(e.count) + count
			b := build(total)
			q.bytes += int32(len(b) - len(e.b))
			e.b, e.count = b, uint32(min(total, 1<<32-1))
			return true
		}
	}
	e := entry{b: build(count), notice: true, count: uint32(min(count, 1<<32-1))}
	if len(e.b) > grant && len(e.b) > q.room(bound) {
		return false
	}
	q.push(e)
	return true
}
