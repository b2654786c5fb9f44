package daemon

import (
	"hash/maphash"
	"sync"
	"time"
)

// registryShards spreads the registry's lock over connects and closes.
const registryShards = 16

// registry is the set of the node's live sessions, with when each
// registered, for the control plane (control.go): disconnect by user,
// server-side subscriptions, the connection list; and for the expiry
// sweeper (SweepExpiries), which looks at those whose token expires.
// Connect and Resume add, Closed and Detach remove; the control plane
// snapshots it and then works on each session under that session's own
// lock, never under a registry lock.
//
// A shard is a slice of registrations, each session holding its index
// (Session.reg) for an O(1) swap-remove: 16 bytes an entry, where a
// map[*Session]int64 cost ~32 bytes a session in slots, control bytes and
// headroom. Whether the control plane closed a session already is
// Session.closing.
type registry struct {
	seed   maphash.Seed
	shards [registryShards]registryShard
}

type registryShard struct {
	mu      sync.Mutex
	entries []registration
}

// registration is a session with when it registered.
type registration struct {
	s     *Session
	since int64 // UnixNano
}

// registryMinShrink is the capacity below which a shard's slice is never
// reallocated smaller.
const registryMinShrink = 64

func newRegistry() *registry {
	return &registry{seed: maphash.MakeSeed()}
}

func (r *registry) shard(s *Session) *registryShard {
	return &r.shards[maphash.Comparable(r.seed, s)%registryShards]
}

// add registers s, which is not registered, as of now.
func (r *registry) add(s *Session, now time.Time) {
	sh := r.shard(s)
	sh.mu.Lock()
	s.reg = int32(len(sh.entries))
	sh.entries = append(sh.entries, registration{s, now.UnixNano()})
	sh.mu.Unlock()
}

// remove unregisters s, if it is registered.
func (r *registry) remove(s *Session) {
	sh := r.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.holds(s) {
		return
	}
	i, last := int(s.reg), len(sh.entries)-1
	sh.entries[i] = sh.entries[last]
	sh.entries[i].s.reg = int32(i)
	sh.entries[last] = registration{}
	sh.entries = sh.entries[:last]
	s.reg = -1
	if c := cap(sh.entries); c > registryMinShrink && len(sh.entries) < c/4 {
		// After a mass disconnect: give the memory back.
		sh.entries = append(make([]registration, 0, c/2), sh.entries...)
	}
}

// holds reports whether s is registered in sh. Called with sh.mu held.
func (sh *registryShard) holds(s *Session) bool {
	i := int(s.reg)
	return i >= 0 && i < len(sh.entries) && sh.entries[i].s == s
}

// snapshot returns the sessions registered now, the daemon's own
// (Identity.Internal) left out.
func (r *registry) snapshot() []registration {
	var out []registration
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, e := range sh.entries {
			if !e.s.internal {
				out = append(out, e)
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// since returns when s was registered, and whether it is.
func (r *registry) since(s *Session) (time.Time, bool) {
	sh := r.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.holds(s) {
		return time.Time{}, false
	}
	return time.Unix(0, sh.entries[s.reg].since), true
}
