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
