package redisbroker

import (
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd/daemon"
)

// TestParseMessage: the pub/sub message format, and its one allocation
// (the payload's copy) per delivered event.
func TestParseMessage(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want daemon.BrokerEvent
		ok   bool
	}{
		{"event", "12\nab12cd\nt\n{\"n\":1}", daemon.BrokerEvent{Offset: 12, Epoch: "ab12cd", Type: "t", Payload: []byte(`{"n":1}`)}, true},
		{"payload with newlines", "1\ne\nt\na\nb", daemon.BrokerEvent{Offset: 1, Epoch: "e", Type: "t", Payload: []byte("a\nb")}, true},
		{"no payload", "3\ne\nt\n", daemon.BrokerEvent{Offset: 3, Epoch: "e", Type: "t"}, true},
		{"missing type", "3\ne", daemon.BrokerEvent{}, false},
		{"bad offset", "x\ne\nt\np", daemon.BrokerEvent{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseMessage(tc.in)
			if ok != tc.ok || got.Offset != tc.want.Offset || got.Epoch != tc.want.Epoch ||
				got.Type != tc.want.Type || string(got.Payload) != string(tc.want.Payload) {
				t.Errorf("parseMessage(%q) = %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
	if raceEnabled {
		return // allocation counts differ under the race detector
	}
	msg := "12\nab12cd\nt\n{\"n\":1}"
	if n := testing.AllocsPerRun(100, func() { _, _ = parseMessage(msg) }); n > 1 {
		t.Errorf("parseMessage allocates %v times, want 1 (the payload)", n)
	}
}

// FuzzParseMessage: whatever arrives on a pub/sub channel, no panic, and
// an accepted message's epoch and type hold no newline.
func FuzzParseMessage(f *testing.F) {
	f.Add("12\nab12cd\nt\n{\"n\":1}")
	f.Add("1\ne\nt\n")
	f.Fuzz(func(t *testing.T, s string) {
		ev, ok := parseMessage(s)
		if ok && (strings.Contains(ev.Epoch, "\n") || strings.Contains(ev.Type, "\n")) {
			t.Fatalf("parseMessage(%q) = %+v", s, ev)
		}
	})
}
