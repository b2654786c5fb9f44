package daemon

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestConnectSubscriptionsQuery(t *testing.T) {
	n := New(Options{MaxSubscriptions: 4})
	tests := []struct {
		name, query, header string
		channels            []string
		since               map[string]Position
		err                 error
	}{
		{name: "none", query: "token=x"},
		{name: "list", query: "channels=a,b&token=x", channels: []string{"a", "b"}},
		{name: "list repeated, duplicates dropped", query: "channels=a,b&channels=b,c,,a", channels: []string{"a", "b", "c"}},
		{name: "one whole, with a comma", query: "channel=a%2Cb&channel=c", channels: []string{"a,b", "c"}},
		{name: "both forms", query: "channel=x&channels=y,x", channels: []string{"x", "y"}},
		{name: "escaped", query: "channels=user%3A7,p%2Bq", channels: []string{"user:7", "p+q"}},
		{name: "other parameters ignored", query: "channelz=a&Channels=b&x=%zz", channels: nil},
		{name: "positions", query: "channels=a,b&last_event_id=a+3+e1+b%207%20e2", channels: []string{"a", "b"},
			since: map[string]Position{"a": {3, "e1"}, "b": {7, "e2"}}},
		{name: "empty epoch", query: "channels=a&last_event_id=a+0+-", channels: []string{"a"},
			since: map[string]Position{"a": {0, ""}}},
		{name: "header wins", query: "channels=a&last_event_id=a+3+e1", header: "a 9 e9", channels: []string{"a"},
			since: map[string]Position{"a": {9, "e9"}}},
		{name: "malformed positions", query: "channels=a&last_event_id=a+x+e1", err: ErrBadPositions},
		{name: "malformed header", query: "channels=a", header: "a 1", err: ErrBadPositions},
		{name: "position escape", query: "channels=a&last_event_id=%zz", err: ErrBadPositions},
		{name: "channel escape", query: "channels=%zz", err: ErrInvalidChannel},
		{name: "at the limit", query: "channels=a,b,c,d", channels: []string{"a", "b", "c", "d"}},
		{name: "over the limit", query: "channels=a,b,c,d&channel=e", err: ErrTooManyChannels},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := n.ConnectSubscriptions(tc.query, tc.header)
			if tc.err != nil {
				var in *InputError
				if !errors.Is(err, tc.err) || !errors.As(err, &in) {
					t.Fatalf("err %v, want an InputError wrapping %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cs.Channels, tc.channels) {
				t.Errorf("channels %q, want %q", cs.Channels, tc.channels)
			}
			if len(cs.Since) != len(tc.since) {
				t.Errorf("since %v, want %v", cs.Since, tc.since)
			}
			for ch, p := range tc.since {
				if cs.Since[ch] != p {
					t.Errorf("since[%s] = %v, want %v", ch, cs.Since[ch], p)
				}
			}
		})
	}
}

// TestSubscribeAll: every channel is subscribed in order, a refusal is an
// unsubscribed frame and the rest carry on, and a position resumes.
func TestSubscribeAll(t *testing.T) {
	n := historyNode(nil, 100, 0)
	s, ft := connect(t, n, "u", "p:*")
	epoch := subscribeAt(t, s, ft, "p:2")
	publishN(t, n, "p:2", 3)
	ft.take(t)

	s2, ft2 := connect(t, n, "u", "p:*")
	cs, err := n.ConnectSubscriptions("channels=p:1,q:1,p:2&last_event_id=p:2+1+"+epoch, "")
	if err != nil {
		t.Fatal(err)
	}
	s2.SubscribeAll(cs)
	msgs := ft2.take(t)
	var got []string
	for _, m := range msgs {
		got = append(got, m.str(t, "type")+" "+m.str(t, "channel"))
	}
	want := []string{"subscribed p:1", "unsubscribed q:1", "subscribed p:2", "tick p:2", "tick p:2"}
	if !slices.Equal(got, want) {
		t.Fatalf("frames %q, want %q", got, want)
	}
	if msgs[1].str(t, "code") != "forbidden" || msgs[2].rawField("recovered") != "true" {
		t.Errorf("refusal %v and resume %v: want code forbidden, recovered true", msgs[1], msgs[2])
	}
}

// TestPositionEmptyEpoch: a channel a broker has numbered nothing in has
// an empty epoch; written, its position must still be three fields, and
// read back the same. Before "-", "p:1 0 " was refused as malformed, so a
// client reconnecting with such a position got 400 (the dashboard's
// Redis test, through the JavaScript client's connect URL).
func TestPositionEmptyEpoch(t *testing.T) {
	b := AppendPosition(nil, "p:1", Position{Offset: 0, Epoch: ""})
	b = append(b, ' ')
	b = AppendPosition(b, "p:2", Position{Offset: 3, Epoch: "e1"})
	if string(b) != "p:1 0 - p:2 3 e1" {
		t.Fatalf("written %q", b)
	}
	got, err := ParsePositions(string(b))
	if err != nil || got["p:1"] != (Position{0, ""}) || got["p:2"] != (Position{3, "e1"}) {
		t.Fatalf("read back %v, %v", got, err)
	}
}

// TestSubscribeAllBrokerDown: with the broker unavailable, the first URL
// channel waits for it and is refused "unavailable"; the others are
// refused with it at once, without another broker call each (the
// WebSocket handshake waits for SubscribeAll).
func TestSubscribeAllBrokerDown(t *testing.T) {
	hub := newBrokerHub(t)
	n := brokerNode(hub)
	hub.setFailSubscribe(true)
	s, ft := connect(t, n, "u", "p:*")
	cs, err := n.ConnectSubscriptions("channels=p:1,p:2,p:3", "")
	if err != nil {
		t.Fatal(err)
	}
	s.SubscribeAll(cs)
	msgs := ft.take(t)
	if len(msgs) != 3 {
		t.Fatalf("frames %v, want three refusals", msgs)
	}
	for i, m := range msgs {
		if m.str(t, "type") != "unsubscribed" || m.str(t, "code") != "unavailable" || m.str(t, "channel") != cs.Channels[i] {
			t.Errorf("frame %v, want %s unsubscribed with code unavailable", m, cs.Channels[i])
		}
	}
	hub.mu.Lock()
	calls := hub.subscribes
	hub.mu.Unlock()
	if calls != 1 {
		t.Errorf("%d broker subscribes, want 1", calls)
	}
}

func TestParsePositionsMalformed(t *testing.T) {
	for _, id := range []string{"a", "a 1", "a x e", "a -1 e", "a 1 e b", "a 18446744073709551616 e"} {
		if _, err := ParsePositions(id); !errors.Is(err, ErrBadPositions) {
			t.Errorf("%q: %v, want ErrBadPositions", id, err)
		}
	}
	if got, err := ParsePositions(""); err != nil || len(got) != 0 {
		t.Errorf(`"": %v, %v; want no position`, got, err)
	}
}

// FuzzParsePositions: any input either is refused or parses into positions
// that AppendPosition writes back to the same positions.
func FuzzParsePositions(f *testing.F) {
	for _, s := range []string{"", "project:a 0 e1 project:b 7 e2", "a x e", "a 1", " a  1\te "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got, err := ParsePositions(id)
		if err != nil {
			return
		}
		var b []byte
		for ch, pos := range got {
			if len(b) > 0 {
				b = append(b, ' ')
			}
			b = AppendPosition(b, ch, pos)
		}
		again, err := ParsePositions(string(b))
		if err != nil || len(again) != len(got) {
			t.Fatalf("%q: parsed %v, written back it parses to %v, %v", id, got, again, err)
		}
		for ch, pos := range got {
			if again[ch] != pos {
				t.Fatalf("%q: %s at %v, then %v", id, ch, pos, again[ch])
			}
		}
	})
}

// BenchmarkConnectSubscriptions: the usual query (a token and a channel or
// two) and the worst a 16 KiB request head can hold (thousands of names,
// cut off once past the limit).
func BenchmarkConnectSubscriptions(b *testing.B) {
	n := New(Options{})
	var worst []byte
	worst = append(worst, "channels="...)
	for i := 0; len(worst) < 16<<10; i++ {
		worst = fmt.Appendf(worst, "c%d,", i)
	}
	for name, q := range map[string]string{
		"two":   "token=x&channels=project:abc-123,user:alice",
		"none":  "token=x",
		"worst": string(worst),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = n.ConnectSubscriptions(q, "")
			}
		})
	}
}
