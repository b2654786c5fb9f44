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
// lock, never under a registry lock. An entry is the map's slot, 16 bytes:
// whether the control plane closed a session already is Session.closing.
type registry struct {
	seed   maphash.Seed
	shards [registryShards]registryShard
}

type registryShard struct {
	mu sync.Mutex
	m  map[*Session]int64 // UnixNano of the registration
}

func newRegistry() *registry {
	r := &registry{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].m = make(map[*Session]int64)
	}
	return r
}

func (r *registry) shard(s *Session) *registryShard {
	return &r.shards[maphash.Comparable(r.seed, s)%registryShards]
}

func (r *registry) add(s *Session, now time.Time) {
	sh := r.shard(s)
	sh.mu.Lock()
	sh.m[s] = now.UnixNano()
	sh.mu.Unlock()
}

func (r *registry) remove(s *Session) {
	sh := r.shard(s)
	sh.mu.Lock()
	delete(sh.m, s)
	sh.mu.Unlock()
}

// registration is a session with when it registered.
type registration struct {
	s     *Session
	since int64 // UnixNano
}

// snapshot returns the sessions registered now, the daemon's own
// (Identity.Internal) left out.
func (r *registry) snapshot() []registration {
	var out []registration
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for s, since := range sh.m {
			if !s.internal {
				out = append(out, registration{s, since})
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
	since, ok := sh.m[s]
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, since), true
}
