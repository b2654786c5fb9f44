package daemon

import (
	"context"
	"testing"
	"time"
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

// timedTransport is a fake that records publish times.
type timedTransport struct {
	fakeTransport
	published []int64
}

func (f *timedTransport) QueueEventAt(msg []byte, key uint64, policy int, published int64) (ok, first bool, dropped int) {
	f.mu.Lock()
	f.published = append(f.published, published)
	f.mu.Unlock()
	return f.fakeTransport.QueueEventAt(msg, key, policy, published)
}

// TestTransportGetsThePublishTime: the core hands the transport the
// publish's own clock reading, for its publish→write latency.
func TestTransportGetsThePublishTime(t *testing.T) {
	at := time.Unix(1700000000, 42)
	n := New(Options{Now: func() time.Time { return at }})
	ft := &timedTransport{}
	s := n.Connect(ft, Identity{Subject: "u", Channels: []string{"*"}})
	defer s.Closed(1000)
	s.Message(false, []byte(`{"action":"subscribe","channel":"c"}`))
	if err := n.Publish(context.Background(), "c", "t", nil); err != nil {
		t.Fatal(err)
	}
	if len(ft.published) != 1 || ft.published[0] != at.UnixNano() {
		t.Fatalf("publish times %v, want [%d]", ft.published, at.UnixNano())
	}
}
