package daemon

import (
	"testing"
	"time"
)

// lruOrder lists the LRU's rings' channels, most recently published first,
// and checks the links agree both ways.
func lruOrder(t *testing.T, l *historyLRU) []string {
	t.Helper()
	var names []string
	var prev *historyRing
	for r := l.head; r != nil; prev, r = r, r.next {
		if r.prev != prev || !r.inLRU {
			t.Fatalf("%s: broken links", r.owner.name)
		}
		names = append(names, r.owner.name)
	}
	if l.tail != prev {
		t.Fatal("the tail is not the last ring")
	}
	return names
}

// TestHistoryLRULinksRings: the LRU holds the rings of the channels with
// history, in publish order, and a ring leaves it when its channel drops
// it, here by the TTL: nothing keeps a dropped ring, or a channel that
// lives on for its subscriber, in the LRU.
func TestHistoryLRULinksRings(t *testing.T) {
	clock := &fakeClock{now: epoch}
	n := historyNode(clock, 100, time.Minute)
	publishN(t, n, "a", 1)
	publishN(t, n, "b", 1)
	publishN(t, n, "a", 1)
	if got := lruOrder(t, &n.lru); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("LRU = %v, want [a b]", got)
	}
	s, _ := connect(t, n, "u", "*")
	s.Message(false, []byte(`{"action":"subscribe","channel":"a"}`))
	clock.advance(61 * time.Second)
	n.SweepHistory()
	if got := lruOrder(t, &n.lru); len(got) != 0 {
		t.Fatalf("LRU after the TTL = %v, want empty", got)
	}
	if ch := n.hub.lookup("a"); ch == nil || ch.hist.r != nil {
		t.Fatal("the subscribed channel is gone, or kept its ring")
	}
	publishN(t, n, "a", 1) // a new ring for the same channel
	if got := lruOrder(t, &n.lru); len(got) != 1 || got[0] != "a" {
		t.Fatalf("LRU = %v, want [a]", got)
	}
}

// TestHistoryEvictionSkipsAReplacedRing: a ring popped for eviction that
// its channel dropped (and replaced) meanwhile frees nothing of the newer
// history.
func TestHistoryEvictionSkipsAReplacedRing(t *testing.T) {
	n := historyNode(&fakeClock{now: epoch}, 100, 0)
	publishN(t, n, "a", 1)
	ch := n.hub.lookup("a")
	stale := ch.hist.r
	ch.mu.Lock()
	n.lru.unlink(stale)
	n.histBytes.Add(-int64(ch.hist.clear()))
	ch.mu.Unlock()
	publishN(t, n, "a", 1)
	fresh := ch.hist.r
	n.lru.touch(stale) // as if the pop had happened before the drop
	n.lru.touch(fresh) // stale is now the oldest
	set := *n.set()
	set.HistoryMaxBytes = 1
	n.live.Store(&set)
	n.evictHistory()
	if ch.hist.r != nil || n.Stats().HistoryEvictions != 1 {
		t.Fatalf("ring %p, %d evictions; want the fresh ring evicted once, the stale one skipped", ch.hist.r, n.Stats().HistoryEvictions)
	}
}
