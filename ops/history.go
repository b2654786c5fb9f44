package ops

import "sync"

// ring is the console's server-side window: the last samples, one per
// PublishStatus tick, so that a page opened (or reloaded) now draws the
// last minutes at once instead of starting empty. Its lock guards buf,
// next and full; it is held only to copy a sample in or out.
type ring struct {
	mu   sync.Mutex
	buf  []Sample
	next int  // where the next sample goes
	full bool // buf has wrapped
}

func newRing(n int) *ring { return &ring{buf: make([]Sample, max(n, 2))} }

// add records s, overwriting the oldest sample once the ring is full.
func (r *ring) add(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = s
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// samples is a copy of the window, oldest first.
func (r *ring) samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]Sample{}, r.buf[:r.next]...)
	}
	out := make([]Sample, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}
