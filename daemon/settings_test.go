package daemon

import (
	"context"
	"testing"
)

// TestReconfigureAppliesToLiveSessionsAndNewChannels: limits change for
// sessions already connected; channel settings change for channels created
// afterwards, while a channel that exists keeps the ones it was created
// with.
func TestReconfigureAppliesToLiveSessionsAndNewChannels(t *testing.T) {
	n := New(Options{MaxSubscriptions: 1, DefaultChannel: ChannelOptions{HistorySize: 1}})
	s, ft := connect(t, n, "u1", "*")
	defer s.Closed(1000)
	subscribe(t, s, ft, "old")
	errReply("too_many_subscriptions", `"x"`).check(t, roundTrip(t, s, ft, `{"action":"subscribe","channel":"x","id":"x"}`))

	n.Reconfigure(Settings{MaxSubscriptions: 3, DefaultChannel: ChannelOptions{HistorySize: 5}})
	subscribe(t, s, ft, "new")
	for range 3 {
		for _, ch := range []string{"old", "new"} {
			if err := n.Publish(context.Background(), ch, "t", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := n.hub.lookup("old").hist.len(); got != 1 {
		t.Errorf("the channel created before the reload keeps %d events, want its own 1", got)
	}
	if got := n.hub.lookup("new").hist.len(); got != 3 {
		t.Errorf("the channel created after the reload keeps %d events, want 3 (size 5)", got)
	}
	if got := n.set().CommandsPerSecond; got != 50 {
		t.Errorf("a zero setting is the default: commands per second %d, want 50", got)
	}
}
