package daemon

import (
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestChanTable: random sets and removals agree with a map at every step,
// through growth, shrinking and the backward shifts of deletion (small
// tables, so runs wrap around their end); removing a channel that is not
// in, or a stale one of the same name, changes nothing.
func TestChanTable(t *testing.T) {
	seed := maphash.MakeSeed()
	rng := rand.New(rand.NewPCG(1, 2))
	var tab chanTable
	ref := map[string]*channel{}
	hash := func(name string) uint64 { return maphash.String(seed, name) }
	check := func(step int) {
		t.Helper()
		if tab.n != len(ref) {
			t.Fatalf("step %d: n = %d, want %d", step, tab.n, len(ref))
		}
		for name, ch := range ref {
			if got := tab.get(hash(name), name); got != ch {
				t.Fatalf("step %d: get(%q) = %p, want %p", step, name, got, ch)
			}
		}
		seen := 0
		tab.each(func(ch *channel) {
			if ref[ch.name] != ch {
				t.Fatalf("step %d: each gave %q, not in", step, ch.name)
			}
			seen++
		})
		if seen != len(ref) {
			t.Fatalf("step %d: each gave %d channels, want %d", step, seen, len(ref))
		}
		if len(tab.slots) > minTableSlots && tab.n*4 > len(tab.slots)*3 {
			t.Fatalf("step %d: %d channels in %d slots", step, tab.n, len(tab.slots))
		}
	}
	for step := range 20000 {
		name := "c" + strconv.Itoa(rng.IntN(300))
		// Grow for the first half, then mostly shrink.
		if rng.IntN(100) < 60 && step < 10000 || rng.IntN(100) < 20 {
			ch := &channel{name: name}
			tab.set(seed, hash(name), ch) // replaces a channel of that name
			ref[name] = ch
		} else if old := ref[name]; old != nil {
			tab.remove(seed, hash(name), &channel{name: name}) // another of that name: no-op
			if tab.get(hash(name), name) != old {
				t.Fatalf("step %d: removing a stale channel removed the live one", step)
			}
			tab.remove(seed, hash(name), old)
			delete(ref, name)
		}
		if step%97 == 0 || len(ref) < 20 {
			check(step)
		}
	}
	check(-1)
	if tab.get(hash("absent"), "absent") != nil {
		t.Fatal("get of an absent name found a channel")
	}
	grown := len(tab.slots)
	for name, ch := range ref {
		tab.remove(seed, hash(name), ch)
		delete(ref, name)
		check(-2)
	}
	if len(tab.slots) != minTableSlots || grown <= minTableSlots {
		t.Errorf("emptied: %d slots (%d before), want it back to %d", len(tab.slots), grown, minTableSlots)
	}
}
