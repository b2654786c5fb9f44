package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func historyNode(clock *fakeClock, size int, ttl time.Duration) *Node {
	o := Options{DefaultChannel: ChannelOptions{HistorySize: size, HistoryTTL: ttl}}
	if clock != nil {
		o.Now = clock.Now
	}
	return New(o)
}

// offsets returns the offset of every event among msgs, failing on a
// message of another epoch.
func offsets(t *testing.T, msgs []wireMsg, epoch string) []uint64 {
	t.Helper()
	var out []uint64
	for _, m := range msgs {
		if _, ok := m["offset"]; !ok || m.str(t, "type") == "subscribed" {
			continue
		}
		if m.str(t, "epoch") != epoch {
			t.Fatalf("event %v from another epoch than %s", m, epoch)
		}
		o, err := strconv.ParseUint(m.rawField("offset"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func publishN(t testing.TB, n *Node, channel string, count int) {
	t.Helper()
	for i := range count {
		if err := n.Publish(context.Background(), channel, "tick", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func sinceCmd(channel string, offset uint64, epoch string) string {
	return fmt.Sprintf(`{"action":"subscribe","channel":%q,"since":{"offset":%d,"epoch":%q}}`, channel, offset, epoch)
}

func TestRecoveryReplaysExactlyTheMissedEvents(t *testing.T) {
	n := historyNode(nil, 100, 0)
	s, ft := connect(t, n, "u", "*")
	epoch := subscribeAt(t, s, ft, "p:1")
	publishN(t, n, "p:1", 10)
	seen := offsets(t, ft.take(t), epoch)
	s.Closed(1006) // the laptop sleeps
	last := seen[len(seen)-1]

	publishN(t, n, "p:1", 50)

	s2, ft2 := connect(t, n, "u", "*")
	s2.Message(false, []byte(sinceCmd("p:1", last, epoch)))
	msgs := ft2.take(t)
	r := msgs[0]
	if r.str(t, "type") != "subscribed" || r.rawField("recovered") != "true" || r.rawField("offset") != "60" {
		t.Fatalf("reply %v, want subscribed, recovered:true at offset 60", r)
	}
	got := offsets(t, msgs[1:], epoch)
	if len(got) != 50 || got[0] != 11 || got[49] != 60 {
		t.Fatalf("replayed offsets %v, want 11..60", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("gap or duplicate in replay: %v", got)
		}
	}
	publishN(t, n, "p:1", 1)
	if live := offsets(t, ft2.take(t), epoch); len(live) != 1 || live[0] != 61 {
		t.Fatalf("live after replay: %v, want [61]", live)
	}
}

func TestRecoveryRefusedNeverPartial(t *testing.T) {
	n := historyNode(nil, 20, 0)
	s0, ft0 := connect(t, n, "u", "*")
	epoch := subscribeAt(t, s0, ft0, "p:2")
	publishN(t, n, "p:2", 30) // offsets 1..30, history keeps 11..30
	for _, tc := range []struct {
		name   string
		offset uint64
		epoch  string
		want   string
	}{
		{"older than the history", 5, epoch, "false"},
		{"just inside the history", 10, epoch, "true"},
		{"current position", 30, epoch, "true"},
		{"future offset", 31, epoch, "false"},
		{"other epoch", 29, "elsewhere-1", "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ft := connect(t, n, "u", "*")
			defer s.Closed(1000)
			s.Message(false, []byte(sinceCmd("p:2", tc.offset, tc.epoch)))
			msgs := ft.take(t)
			if got := msgs[0].rawField("recovered"); got != tc.want {
				t.Fatalf("recovered = %s, want %s (%v)", got, tc.want, msgs[0])
			}
			replayed := len(msgs) - 1
			want := 0
			if tc.want == "true" {
				want = int(30 - tc.offset)
			}
			if replayed != want {
				t.Fatalf("replayed %d events, want %d", replayed, want)
			}
		})
	}
}

func TestHistoryTTLAndIdleChannelDropped(t *testing.T) {
	clock := &fakeClock{now: epoch}
	n := historyNode(clock, 100, time.Minute)
	publishN(t, n, "idle", 3)
	if n.Stats().Channels != 1 || n.Stats().HistoryBytes == 0 {
		t.Fatalf("after publishing without subscribers: %+v, want the channel kept for its history", n.Stats())
	}
	ep := n.hub.lookup("idle").epoch
	clock.advance(61 * time.Second)
	n.SweepHistory()
	if st := n.Stats(); st.Channels != 0 || st.HistoryBytes != 0 {
		t.Fatalf("after the TTL: %+v, want no channel and no history bytes", st)
	}
	s, ft := connect(t, n, "u", "*")
	s.Message(false, []byte(sinceCmd("idle", 1, ep)))
	if r := ft.only(t); r.rawField("recovered") != "false" || r.str(t, "epoch") == ep {
		t.Fatalf("reply %v, want recovered:false in a new epoch", r)
	}
}

func TestHistoryMemoryCapEvictsLeastRecentlyPublished(t *testing.T) {
	n := New(Options{DefaultChannel: ChannelOptions{HistorySize: 1000}, HistoryMaxBytes: 20_000})
	big := json.RawMessage(`"` + fmt.Sprintf("%0900d", 0) + `"`) // ~950-byte events
	for range 10 {
		if err := n.Publish(context.Background(), "old", "t", big); err != nil {
			t.Fatal(err)
		}
	}
	for range 15 {
		if err := n.Publish(context.Background(), "new", "t", big); err != nil {
			t.Fatal(err)
		}
	}
	st := n.Stats()
	if st.HistoryBytes > 20_000 || st.HistoryEvictions == 0 {
		t.Fatalf("stats %+v, want history within 20000 bytes after evictions", st)
	}
	if ch := n.hub.lookup("old"); ch != nil && ch.hist.len() > 0 {
		t.Fatalf("the least recently published channel kept %d events", ch.hist.len())
	}
	if ch := n.hub.lookup("new"); ch == nil || ch.hist.len() != 15 {
		t.Fatalf("the recent channel lost history")
	}
}

func TestIdempotentPublishRetried(t *testing.T) {
	n := historyNode(nil, 10, 0)
	s, ft := connect(t, n, "u", "*")
	ep := subscribeAt(t, s, ft, "orders")
	type result struct {
		offset uint64
		epoch  string
		dup    bool
	}
	var got []result
	for range 4 { // the first publish and three retries
		_, err := n.PublishBatch(context.Background(), 1,
			func(int) (string, string, []byte, string) {
				return "orders", "order.created", []byte(`{"id":1}`), "order-1"
			},
			func(_ int, o uint64, e string, d bool) { got = append(got, result{o, e, d}) })
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []result{{1, ep, false}, {1, ep, true}, {1, ep, true}, {1, ep, true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("positions %v, want %v", got, want)
	}
	if events := offsets(t, ft.take(t), ep); len(events) != 1 {
		t.Fatalf("subscriber got %d events, want 1", len(events))
	}
	if st := n.Stats(); st.Published != 1 || st.Duplicates != 3 {
		t.Fatalf("stats %+v, want 1 published and 3 duplicates", st)
	}
	// Keys are scoped to their channel: the same key elsewhere publishes.
	var dup bool
	if _, err := n.PublishBatch(context.Background(), 1,
		func(int) (string, string, []byte, string) { return "invoices", "t", nil, "order-1" },
		func(_ int, _ uint64, _ string, d bool) { dup = d }); err != nil || dup {
		t.Fatalf("same key on another channel: err %v, duplicate %v", err, dup)
	}
}

func TestIdempotencyKeyForgottenAfterWindow(t *testing.T) {
	clock := &fakeClock{now: epoch}
	n := New(Options{Now: clock.Now, IdempotencyWindow: time.Minute})
	publish := func() (offset uint64, dup bool) {
		if _, err := n.PublishBatch(context.Background(), 1,
			func(int) (string, string, []byte, string) { return "c", "t", nil, "k" },
			func(_ int, o uint64, _ string, d bool) { offset, dup = o, d }); err != nil {
			t.Fatal(err)
		}
		return offset, dup
	}
	publish()
	clock.advance(59 * time.Second)
	if _, dup := publish(); !dup {
		t.Fatal("retry within the window published again")
	}
	clock.advance(2 * time.Second)
	n.SweepHistory()
	if _, dup := publish(); dup {
		t.Fatal("publish after the window was taken for a retry")
	}
	if got := n.idem.size(); got != 1 {
		t.Fatalf("%d keys remembered, want 1", got)
	}
}

// TestRecoveryRacesWithPublishes: while a publisher runs flat out, clients
// subscribe with a position taken from an earlier event. Every client must
// see a contiguous, duplicate-free run of offsets from its position on.
func TestRecoveryRacesWithPublishes(t *testing.T) {
	// A history deep enough that the publisher cannot outrun it between
	// taking a position and subscribing, even under the race detector.
	n := historyNode(nil, 100_000, 0)
	var last atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = n.PublishBatch(context.Background(), 1,
				func(int) (string, string, []byte, string) { return "race", "t", nil, "" },
				func(_ int, o uint64, _ string, _ bool) { last.Store(o) })
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for last.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ep := n.hub.lookup("race").epoch
	const trials = 2000
	for trial := range trials {
		since := last.Load()
		s, ft := connect(t, n, "u", "*")
		s.Message(false, []byte(sinceCmd("race", since, ep)))
		for range 3 { // let some live events through
			time.Sleep(0)
		}
		s.Closed(1000)
		msgs := ft.take(t)
		if msgs[0].rawField("recovered") != "true" {
			t.Fatalf("trial %d: %v, want recovered (position %d is within the history)", trial, msgs[0], since)
		}
		want := since + 1
		for _, o := range offsets(t, msgs[1:], ep) {
			if o != want {
				t.Fatalf("trial %d: offset %d after %d: gap or duplicate", trial, o, want-1)
			}
			want++
		}
	}
}

// TestDropOldestTellsTheClient: when the transport drops queued events of a
// drop-oldest channel, the client gets a missed frame with the count.
func TestDropOldestTellsTheClient(t *testing.T) {
	n := New(Options{DefaultChannel: ChannelOptions{SlowConsumer: PolicyDropOldest}})
	s, ft := connect(t, n, "u", "*")
	subscribeAt(t, s, ft, "ticks")
	ft.mu.Lock()
	ft.dropNext = 3
	ft.mu.Unlock()
	publishN(t, n, "ticks", 1)
	msgs := ft.take(t)
	if len(msgs) != 2 || msgs[1].str(t, "type") != "missed" || msgs[1].rawField("count") != "3" {
		t.Fatalf("got %v, want the event then missed with count 3", msgs)
	}
	if got := n.Stats().Skipped; got != 3 {
		t.Fatalf("Skipped = %d, want 3", got)
	}
}
