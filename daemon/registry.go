package daemon

import (
	"sync"
	"time"
)

// registryShards spreads the registry's lock over connects and closes.
const registryShards = 16

// registry indexes the node's live sessions by connection id, with when
// each connected, for the control plane (control.go): disconnect by user,
// server-side subscriptions, the connection list. Connect adds, Closed
// removes; the control plane snapshots it and then works on each session
// under that session's own lock, never under a registry lock.
type registry struct {
	shards [registryShards]registryShard
}

type registryShard struct {
	mu sync.Mutex
	m  map[string]*registered
}

type registered struct {
	s     *Session
	since time.Time
	// closing: the control plane closed it already (a close waits for
	// the peer's answer); guarded by s.ctl.
	closing bool
}

func newRegistry() *registry {
	r := &registry{}
	for i := range r.shards {
		r.shards[i].m = make(map[string]*registered)
	}
	return r
}

func (r *registry) shard(seq uint64) *registryShard { return &r.shards[seq%registryShards] }

func (r *registry) add(s *Session, now time.Time) {
	sh := r.shard(s.seq)
	sh.mu.Lock()
	sh.m[s.id] = &registered{s: s, since: now}
	sh.mu.Unlock()
}

func (r *registry) remove(s *Session) {
	sh := r.shard(s.seq)
	sh.mu.Lock()
	delete(sh.m, s.id)
	sh.mu.Unlock()
}

// snapshot returns the sessions registered now, the daemon's own
// (Identity.Internal) left out.
func (r *registry) snapshot() []*registered {
	var out []*registered
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, e := range sh.m {
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
	sh := r.shard(s.seq)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[s.id]
	if !ok || e.s != s {
		return time.Time{}, false
	}
	return e.since, true
}
