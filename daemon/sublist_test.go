package daemon

import (
	"slices"
	"testing"
)

// TestSubList: subscriptions keep their order through add, take and
// deleteFunc; lookup counts them in the walk that finds none.
func TestSubList(t *testing.T) {
	var l subList
	for _, name := range []string{"a", "b", "c", "d"} {
		l.add(&subscription{ch: &channel{name: name}})
	}
	names := func() []string {
		var out []string
		for sub := range l.all() {
			out = append(out, sub.ch.name)
		}
		return out
	}
	if sub, _ := l.lookup("c"); sub == nil || sub.ch.name != "c" {
		t.Fatalf("lookup(c) = %v", sub)
	}
	if sub, n := l.lookup("x"); sub != nil || n != 4 {
		t.Fatalf("lookup(x) = %v, %d; want nil, 4", sub, n)
	}
	if sub := l.take("b"); sub == nil || sub.ch.name != "b" || sub.next != nil {
		t.Fatalf("take(b) = %+v", sub)
	}
	if l.take("b") != nil {
		t.Fatal("b taken twice")
	}
	l.deleteFunc(func(s *subscription) bool { return s.ch.name == "a" })
	if got := names(); !slices.Equal(got, []string{"c", "d"}) || l.len() != 2 {
		t.Fatalf("left %v (len %d), want [c d]", got, l.len())
	}
	l.add(&subscription{ch: &channel{name: "e"}})
	if got := names(); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Fatalf("after add: %v", got)
	}
}
