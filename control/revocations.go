package control

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// revocations is the node's list of revoked users and tokens, each until
// a time. Read at every handshake and refresh (get), written by actions
// and the Store's load; expired entries are forgotten by sweep.
type revocations struct {
	mu sync.RWMutex
	m  map[string]time.Time
}

func newRevocations() *revocations { return &revocations{m: map[string]time.Time{}} }

// add keeps key until until, unless that is past. The latest revocation
// of a key replaces an earlier one, longer or shorter, as it does in the
// Store, so that a restarted node agrees with the others.
func (r *revocations) add(key string, until, now time.Time) {
	if !until.After(now) {
		return
	}
	r.mu.Lock()
	r.m[key] = until
	r.mu.Unlock()
}

func (r *revocations) remove(key string) {
	r.mu.Lock()
	delete(r.m, key)
	r.mu.Unlock()
}

func (r *revocations) get(key string, now time.Time) (time.Time, bool) {
	r.mu.RLock()
	until, ok := r.m[key]
	r.mu.RUnlock()
	if !ok || !now.Before(until) {
		return time.Time{}, false
	}
	return until, true
}

// sweep forgets the revocations that ended.
func (r *revocations) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, until := range r.m {
		if !now.Before(until) {
			delete(r.m, k)
		}
	}
}

// Revocation is one entry of the list.
type Revocation struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until"`
}

// list returns the revocations in force, sorted by key.
func (r *revocations) list(now time.Time) []Revocation {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []Revocation{}
	for k, until := range r.m {
		if now.Before(until) {
			out = append(out, Revocation{Key: k, Until: until.UTC()})
		}
	}
	slices.SortFunc(out, func(a, b Revocation) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Revocations are the revocations in force, sorted by key: what a hand-off
// carries to the next process (with the in-memory broker there is no Store
// to reload them from).
func (p *Plane) Revocations() []Revocation { return p.revoked.list(p.o.Now()) }

// Restore adds revocations a previous process handed over (Revocations);
// those already ended are skipped.
func (p *Plane) Restore(rs []Revocation) {
	now := p.o.Now()
	for _, r := range rs {
		p.revoked.add(r.Key, r.Until, now)
	}
}
