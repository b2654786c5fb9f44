package natsbroker

import (
	"encoding/base64"
	"slices"
	"sync"
	"time"
)

// maxBatch bounds the events of one chunk, so that one chunk does not hold
// up a whole burst's answers (maxChunkBytes bounds its bytes).
const maxBatch = 256

// maxIdleQueues: beyond this many channel queues, idle ones are forgotten
// (their cached position with them; the next publish reads it again).
const maxIdleQueues = 4096

// pubReq is one Publish waiting for its answer.
type pubReq struct {
	eventType string
	payload   []byte
	key       string
	done      chan struct{}

	// Set by the runner before done is closed.
	offset uint64
	epoch  string
	dup    bool
	err    error
}

// chanq orders one channel's publishes inside this node: one runner at a
// time (the publisher that found the queue idle, then a goroutine if more
// came meanwhile) sends what is waiting as one batch, then the next, and
// stops when the queue is empty.
// The node therefore never races itself for the channel's compare-and-set;
// only other nodes can make it fail.
type chanq struct {
	name string
	subj string

	mu      sync.Mutex // guards waiting and running
	waiting []*pubReq
	running bool

	// The channel's last stored event as this node last saw it; only the
	// runner touches these (one at a time), so they need no lock.
	known  bool
	at     time.Time // when it was last read or moved by a publish
	gen    uint64    // stream generation the position was read in
	seq    uint64    // its stream sequence
	offset uint64
	epoch  string
}

// enqueue adds r to channel's queue, making the queue on first use, and
// returns the queue and whether the caller must lead it (chanq.add).
// Holding b.qmu while adding keeps dropIdleLocked from forgetting a queue
// that is about to run: one runner per channel.
func (b *Broker) enqueue(channel string, r *pubReq) (*chanq, bool) {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	q := b.queues[channel]
	if q == nil {
		if len(b.queues) >= maxIdleQueues {
			b.dropIdleLocked()
		}
		q = &chanq{name: channel, subj: b.subject(channel)}
		b.queues[channel] = q
	}
	return q, q.add(r)
}

// dropIdleLocked forgets the queues with nothing waiting or running.
// Called with b.qmu held.
func (b *Broker) dropIdleLocked() {
	for name, q := range b.queues {
		q.mu.Lock()
		idle := !q.running && len(q.waiting) == 0
		q.mu.Unlock()
		if idle {
			delete(b.queues, name)
		}
	}
}

// add queues r. lead is true when no runner runs: the caller must then
// run the queue (Broker.lead).
func (q *chanq) add(r *pubReq) (lead bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting = append(q.waiting, r)
	lead = !q.running
	q.running = true
	return lead
}

// withdraw takes r out of the queue if it has not been taken for sending;
// it reports whether it did (then r was never sent).
func (q *chanq) withdraw(r *pubReq) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.waiting, r)
	if i < 0 {
		return false
	}
	q.waiting = slices.Delete(q.waiting, i, i+1)
	return true
}

// lead is run by the publisher whose event found the channel idle: it
// sends the first batch itself, which saves a goroutine hand-off when
// channels are not contended, and leaves what has queued meanwhile to a
// runner goroutine, so that its own answer does not wait for the others.
func (q *chanq) lead(b *Broker) {
	if reqs := q.take(b.chunkLimit()); len(reqs) > 0 {
		q.sendAll(b, reqs)
	}
	if reqs := q.take(b.chunkLimit()); len(reqs) > 0 {
		go q.run(b, reqs)
	}
}

// run sends reqs, then batch after batch until the queue is empty.
func (q *chanq) run(b *Broker, reqs []*pubReq) {
	for len(reqs) > 0 {
		q.sendAll(b, reqs)
		reqs = q.take(b.chunkLimit())
	}
}

func (q *chanq) sendAll(b *Broker, reqs []*pubReq) {
	b.send(q, reqs)
	for _, r := range reqs {
		close(r.done)
	}
}

// take removes the next batch from the queue: up to maxBatch events or
// limit bytes (Broker.chunkLimit) in order, where an event with an
// idempotency key goes alone (JetStream deduplicates whole messages). With
// nothing waiting it marks the runner stopped.
func (q *chanq) take(limit int) []*pubReq {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, size := 0, 0
	for n < len(q.waiting) && n < maxBatch {
		r := q.waiting[n]
		size += chunkSize(r.eventType, r.payload)
		if n > 0 && (r.key != "" || size > limit) {
			break
		}
		n++
		if r.key != "" {
			break
		}
	}
	if n == 0 {
		q.running = false
		return nil
	}
	reqs := slices.Clone(q.waiting[:n])
	q.waiting = slices.Delete(q.waiting, 0, n)
	return reqs
}

func (b *Broker) subject(channel string) string {
	return b.opts.Prefix + ".s." + base64.RawURLEncoding.EncodeToString([]byte(channel))
}

func (b *Broker) liveSubject(channel string) string {
	return b.opts.Prefix + ".l." + base64.RawURLEncoding.EncodeToString([]byte(channel))
}
