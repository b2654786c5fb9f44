package daemon

import (
	"testing"
	"time"
)

// TestRegistrySwapRemove: removing sessions in any order keeps every
// other one registered, with its time, and the indexes current.
func TestRegistrySwapRemove(t *testing.T) {
	r := newRegistry()
	const count = 5000
	sessions := make([]*Session, count)
	base := time.Unix(1_700_000_000, 0)
	for i := range sessions {
		sessions[i] = &Session{}
		r.add(sessions[i], base.Add(time.Duration(i)))
	}
	if got := len(r.snapshot()); got != count {
		t.Fatalf("snapshot has %d sessions, want %d", got, count)
	}
	// Every third, then the rest from the end: both the last and middle
	// slots of the shards are vacated.
	removed := make(map[*Session]bool)
	for i := 0; i < count; i += 3 {
		r.remove(sessions[i])
		removed[sessions[i]] = true
	}
	r.remove(sessions[0]) // twice: a no-op
	for i, s := range sessions {
		since, ok := r.since(s)
		if ok == removed[s] {
			t.Fatalf("session %d: registered %v, removed %v", i, ok, removed[s])
		}
		if ok && !since.Equal(base.Add(time.Duration(i))) {
			t.Fatalf("session %d registered at %v, want %v", i, since, base.Add(time.Duration(i)))
		}
	}
	for i := count - 1; i >= 0; i-- {
		r.remove(sessions[i])
	}
	if got := len(r.snapshot()); got != 0 {
		t.Fatalf("snapshot has %d sessions after removing all", got)
	}
	for i := range r.shards {
		if c := cap(r.shards[i].entries); c > registryMinShrink {
			t.Errorf("shard %d keeps a capacity of %d with no session", i, c)
		}
	}
}

// TestRegistrySkipsInternal: the daemon's own sessions are not listed.
func TestRegistrySkipsInternal(t *testing.T) {
	r := newRegistry()
	own, user := &Session{internal: true}, &Session{}
	r.add(own, time.Now())
	r.add(user, time.Now())
	snap := r.snapshot()
	if len(snap) != 1 || snap[0].s != user {
		t.Fatalf("snapshot = %v, want only the user's session", snap)
	}
	if _, ok := r.since(own); !ok {
		t.Fatal("the internal session is not registered")
	}
}
