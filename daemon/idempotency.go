package daemon

import "sync"

// idempotency remembers the position of each event published with an
// idempotency key, for Options.IdempotencyWindow, so that a publisher's
// retry returns the original position instead of publishing twice. Keys are
// scoped to their channel. At Options.IdempotencyMaxKeys the oldest keys
// are forgotten early. Lock order: channel → idempotency; checking and
// recording under the channel lock makes a key's first publish atomic.
type idempotency struct {
	mu    sync.Mutex
	seen  map[string]idemEntry
	order []idemKey // insertion order, for expiry
	head  int
}

type idemEntry struct {
	offset uint64
	epoch  string
	at     int64
}

type idemKey struct {
	key string
	at  int64
}

func newIdempotency() *idempotency { return &idempotency{seen: make(map[string]idemEntry)} }

func idemScope(channel, key string) string { return channel + "\x00" + key }

// get returns the recorded position of key, if it is within the window.
func (d *idempotency) get(key string, now, window int64) (idemEntry, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.seen[key]
	if !ok || now-e.at > window {
		return idemEntry{}, false
	}
	return e, true
}

// put records key's position, forgetting the oldest keys beyond maxKeys.
func (d *idempotency) put(key string, e idemEntry, maxKeys int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen[key] = e
	d.order = append(d.order, idemKey{key, e.at})
	for len(d.seen) > maxKeys && d.head < len(d.order) {
		d.forgetOldestLocked()
	}
}

// expire forgets the keys recorded before cutoff (UnixNano).
func (d *idempotency) expire(cutoff int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.head < len(d.order) && d.order[d.head].at < cutoff {
		d.forgetOldestLocked()
	}
	if d.head > 0 && d.head*2 >= len(d.order) {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}

func (d *idempotency) forgetOldestLocked() {
	k := d.order[d.head]
	d.order[d.head] = idemKey{}
	d.head++
	// A key published again later has a newer entry: keep that one.
	if e, ok := d.seen[k.key]; ok && e.at == k.at {
		delete(d.seen, k.key)
	}
}

func (d *idempotency) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}
