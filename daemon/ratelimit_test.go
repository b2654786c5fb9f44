package daemon

import (
	"testing"
	"time"
)

// TestCommandsPerSecond: a burst of twice the rate is served, the next
// command is refused with rate_limited (connection open), and tokens come
// back with time.
func TestCommandsPerSecond(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	n := New(Options{CommandsPerSecond: 5, Now: func() time.Time { return now }})
	f := &fakeTransport{}
	s := n.Connect(f, Identity{Subject: "u", Channels: []string{"*"}})
	f.take(t)
	for range 10 {
		s.Message(false, []byte(`{"action":"ping"}`))
	}
	s.Message(false, []byte(`{"action":"ping"}`))
	msgs := f.take(t)
	if len(msgs) != 11 {
		t.Fatalf("%d replies, want 11", len(msgs))
	}
	for i, m := range msgs[:10] {
		if m.str(t, "type") != "pong" {
			t.Fatalf("reply %d = %v, want pong", i, m)
		}
	}
	if msgs[10].str(t, "type") != "error" || msgs[10].str(t, "code") != "rate_limited" {
		t.Fatalf("11th reply = %v, want rate_limited", msgs[10])
	}
	if len(f.closeCalls()) != 0 {
		t.Fatal("a rate-limited connection must stay open")
	}
	now = now.Add(time.Second) // 5 tokens back
	for range 6 {
		s.Message(false, []byte(`{"action":"ping"}`))
	}
	msgs = f.take(t)
	if msgs[4].str(t, "type") != "pong" || msgs[5].str(t, "code") != "rate_limited" {
		t.Fatalf("after 1s: %v", msgs)
	}
}

// TestCommandsPerSecondUneven: with a rate that does not divide a second
// into whole nanoseconds, the burst is still exactly twice the rate, and
// one command comes back per 1/rate s, not sooner.
func TestCommandsPerSecondUneven(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	n := New(Options{CommandsPerSecond: 3, Now: func() time.Time { return now }})
	f := &fakeTransport{}
	s := n.Connect(f, Identity{Subject: "u", Channels: []string{"*"}})
	f.take(t)
	pongs := func(count int) (served int) {
		for range count {
			s.Message(false, []byte(`{"action":"ping"}`))
		}
		for _, m := range f.take(t) {
			if m.str(t, "type") == "pong" {
				served++
			}
		}
		return served
	}
	if got := pongs(10); got != 6 {
		t.Fatalf("burst: %d served, want 6", got)
	}
	now = now.Add(time.Second/3 - time.Millisecond)
	if got := pongs(1); got != 0 {
		t.Fatalf("before 1/3 s: %d served, want 0", got)
	}
	now = now.Add(2 * time.Millisecond)
	if got := pongs(2); got != 1 {
		t.Fatalf("after 1/3 s: %d served, want 1", got)
	}
	now = now.Add(time.Hour) // a full bucket, no more
	if got := pongs(10); got != 6 {
		t.Fatalf("after an hour: %d served, want 6", got)
	}
}
