package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// viaJSON encodes v and decodes it again, as the hand-off image will.
func viaJSON[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out
}

// handOff moves every session of old to next as the root will: freeze,
// export (through JSON), import, resume on new transports, detach.
func handOff(t *testing.T, old, next *Node, sessions ...*Session) ([]*Session, []*fakeTransport) {
	t.Helper()
	old.Freeze()
	st := viaJSON(t, old.ExportState())
	states := make([]SessionState, len(sessions))
	for i, s := range sessions {
		states[i] = viaJSON(t, s.Export())
	}
	if err := next.ImportState(st); err != nil {
		t.Fatal(err)
	}
	out := make([]*Session, len(sessions))
	fts := make([]*fakeTransport, len(sessions))
	for i, ss := range states {
		fts[i] = &fakeTransport{}
		s, err := next.Resume(fts[i], ss)
		if err != nil {
			t.Fatal(err)
		}
		if s.ID() != sessions[i].ID() {
			t.Fatalf("resumed id %s, want %s", s.ID(), sessions[i].ID())
		}
		out[i] = s
	}
	for _, s := range sessions {
		s.Detach()
	}
	return out, fts
}

func handoffOptions() Options {
	return Options{
		DefaultChannel: ChannelOptions{HistorySize: 100},
		ChannelClasses: []ChannelClass{{Prefix: "live:"}}, // no history
	}
}

func TestHandoffMemoryContinuesPositions(t *testing.T) {
	var aClosed atomic.Int32
	oa := handoffOptions()
	oa.OnDisconnect = func(string, string, int) { aClosed.Add(1) }
	a, b := New(oa), New(handoffOptions())
	s1, ft1 := connect(t, a, "u1", "*")
	s2, ft2 := connect(t, a, "u2", "*")
	e1 := subscribeAt(t, s1, ft1, "p:1")
	e2 := subscribeAt(t, s1, ft1, "p:2")
	subscribeAt(t, s2, ft2, "p:1")
	e3 := subscribeAt(t, s2, ft2, "live:x")
	ctx := context.Background()
	if _, err := a.PublishBatch(ctx, 1, func(int) (string, string, []byte, string) { return "p:1", "t", nil, "k1" }, nil); err != nil {
		t.Fatal(err)
	}
	publishN(t, a, "p:1", 4)
	publishN(t, a, "p:2", 2)
	publishN(t, a, "live:x", 3)
	ft1.reset()
	ft2.reset()
	stA := a.ExportState()
	_ = stA // a snapshot of a live node is allowed; the hand-off's is taken frozen

	rs, fts := handOff(t, a, b, s1, s2)
	for i, ft := range fts {
		if msgs := ft.take(t); len(msgs) != 0 {
			t.Fatalf("session %d was sent %v on resume, want nothing", i, msgs)
		}
	}
	if st := b.Stats(); st.Connections != 2 || st.Subscriptions != 4 {
		t.Fatalf("B counts %d connections, %d subscriptions; want 2, 4", st.Connections, st.Subscriptions)
	}
	if st := a.Stats(); st.Connections != 0 || st.Subscriptions != 0 {
		t.Fatalf("A still counts %d connections, %d subscriptions", st.Connections, st.Subscriptions)
	}

	publishN(t, b, "p:1", 1)
	publishN(t, b, "p:2", 1)
	publishN(t, b, "live:x", 1)
	if got := offsets(t, fts[0].messages(t)[:1], e1); !slices.Equal(got, []uint64{6}) {
		t.Fatalf("s1 on p:1 got %v, want [6]", got)
	}
	if got := offsets(t, fts[0].messages(t)[1:], e2); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("s1 on p:2 got %v, want [3]", got)
	}
	m2 := fts[1].take(t)
	if len(m2) != 2 || !slices.Equal(offsets(t, m2[:1], e1), []uint64{6}) || !slices.Equal(offsets(t, m2[1:], e3), []uint64{4}) {
		t.Fatalf("s2 got %v, want p:1 at 6 then live:x at 4", m2)
	}

	// A retried publish with the key is still a duplicate.
	var dupOffset uint64
	var dupEpoch string
	var dup bool
	if _, err := b.PublishBatch(ctx, 1, func(int) (string, string, []byte, string) { return "p:1", "t", nil, "k1" },
		func(_ int, o uint64, e string, d bool) { dupOffset, dupEpoch, dup = o, e, d }); err != nil {
		t.Fatal(err)
	}
	if !dup || dupOffset != 1 || dupEpoch != e1 {
		t.Fatalf("retry on B: offset %d epoch %s duplicate %v; want 1 %s true", dupOffset, dupEpoch, dup, e1)
	}

	// A client that left A at offset 2 recovers on B, across both.
	c, fc := connect(t, b, "u3", "*")
	defer c.Closed(1000)
	c.Message(false, []byte(sinceCmd("p:1", 2, e1)))
	msgs := fc.take(t)
	if msgs[0].rawField("recovered") != "true" || !slices.Equal(offsets(t, msgs[1:], e1), []uint64{3, 4, 5, 6}) {
		t.Fatalf("recovery on B: %v", msgs)
	}

	// The old side is silent: its transports got nothing after the
	// freeze, and its late Closed calls report nothing.
	s1.Closed(1006)
	s2.Closed(1006)
	if len(ft1.raw()) != 0 || len(ft2.raw()) != 0 || aClosed.Load() != 0 {
		t.Fatalf("old side: %d and %d messages, %d disconnects; want none", len(ft1.raw()), len(ft2.raw()), aClosed.Load())
	}
	ids := []string{}
	for _, cn := range b.Connections("", "") {
		ids = append(ids, cn.ID)
	}
	if !slices.Contains(ids, s1.ID()) || !slices.Contains(ids, s2.ID()) {
		t.Fatalf("B lists %v, want the resumed ids", ids)
	}
	for _, s := range append(rs, c) {
		s.Closed(1000)
	}
}

func TestHandoffKeepsEmptyChannelsForResume(t *testing.T) {
	a, b := New(handoffOptions()), New(handoffOptions())
	s, ft := connect(t, a, "u", "*")
	epoch := subscribeAt(t, s, ft, "live:y") // no history, no events yet
	a.Freeze()
	st := viaJSON(t, a.ExportState())
	ss := viaJSON(t, s.Export())
	if err := b.ImportState(st); err != nil {
		t.Fatal(err)
	}
	b.SweepHistory() // must not drop the channel the session will resume on
	ft2 := &fakeTransport{}
	s2, err := b.Resume(ft2, ss)
	if err != nil {
		t.Fatal(err)
	}
	s.Detach()
	publishN(t, b, "live:y", 1)
	if got := offsets(t, ft2.take(t), epoch); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("got %v in epoch %s, want [1]", got, epoch)
	}
	s2.Closed(1000)
}

func TestHandoffResumeReplaysWhatTheChannelMovedOn(t *testing.T) {
	a, b := New(handoffOptions()), New(handoffOptions())
	s, ft := connect(t, a, "u", "*")
	epoch := subscribeAt(t, s, ft, "p:1")
	publishN(t, a, "p:1", 2)
	a.Freeze()
	ss := viaJSON(t, s.Export())
	ss.Channels[0].Offset = 1 // as if the last event had not reached it
	if err := b.ImportState(viaJSON(t, a.ExportState())); err != nil {
		t.Fatal(err)
	}
	ss2 := ss
	ss2.ID = "other"
	ss2.Channels = []SubState{{Channel: "p:1", Offset: 2, Epoch: "another-epoch"}}
	ft2, ft3 := &fakeTransport{}, &fakeTransport{}
	r2, err := b.Resume(ft2, ss)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := b.Resume(ft3, ss2)
	if err != nil {
		t.Fatal(err)
	}
	s.Detach()
	if got := offsets(t, ft2.take(t), epoch); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("behind by one: got %v, want [2]", got)
	}
	if m := ft3.only(t); m.str(t, "type") != "missed" || m.str(t, "channel") != "p:1" {
		t.Fatalf("lost position: got %v, want a missed notice for p:1", m)
	}
	r2.Closed(1000)
	r3.Closed(1000)
}

func TestHandoffConnEventsContinue(t *testing.T) {
	a, b := New(Options{}), New(Options{})
	s, ft := connect(t, a, "u", "*")
	subscribe(t, s, ft, "p:1")
	a.Freeze()
	st := viaJSON(t, a.ExportState())
	ss := viaJSON(t, s.Export())
	var lines []string
	a.CloseConnEvents()
	if err := a.StreamConnEvents(context.Background(), 0, "", func(l []byte) error { lines = append(lines, string(l)); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.ImportState(st); err != nil {
		t.Fatal(err)
	}
	r, err := b.Resume(&fakeTransport{}, ss)
	if err != nil {
		t.Fatal(err)
	}
	s.Detach()
	r.Closed(1000) // seq 3 on B: the stream goes on
	b.CloseConnEvents()
	var got []string
	if err := b.StreamConnEvents(context.Background(), 1, st.ConnEvents.Epoch, func(l []byte) error { got = append(got, string(l)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || len(got) != 2 || got[0] != lines[1] || !strings.Contains(got[1], `"seq":3,`) ||
		!strings.Contains(got[1], `"disconnect"`) || !strings.Contains(got[1], st.ConnEvents.Epoch) {
		t.Fatalf("A's stream %q; B's after seq 1 %q: want A's second line, then a disconnect at seq 3, no reset", lines, got)
	}
}

func TestFreezeHoldsPublishesUntilUnfreeze(t *testing.T) {
	n := New(handoffOptions())
	s, ft := connect(t, n, "u", "*")
	epoch := subscribeAt(t, s, ft, "p:1")
	publishN(t, n, "p:1", 1)
	ft.reset()
	n.Freeze()

	done := make(chan error, 2)
	go func() { done <- n.PublishReserved(context.Background(), "p:1", "t", nil) }()
	go func() { n.Disconnect(ByUser, "nobody", CloseDisconnected, ""); done <- nil }()
	select {
	case err := <-done:
		t.Fatalf("a call returned while frozen (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := n.Publish(ctx, "p:1", "t", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish with an ending ctx: %v, want DeadlineExceeded", err)
	}
	st := n.ExportState()
	ss := s.Export()
	if len(ft.raw()) != 0 || st.Channels[0].Last != 1 || ss.Channels[0].Offset != 1 {
		t.Fatalf("frozen: sent %d, channel at %d, session at %d; want 0, 1, 1", len(ft.raw()), st.Channels[0].Last, ss.Channels[0].Offset)
	}

	n.Unfreeze()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("still blocked after Unfreeze")
		}
	}
	publishN(t, n, "p:1", 1)
	if got := offsets(t, ft.take(t), epoch); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("after Unfreeze: %v, want [2 3]", got)
	}
	s.Closed(1000)
}

func TestRetireEndsWaitingPublishes(t *testing.T) {
	n := New(Options{})
	n.Freeze()
	done := make(chan error, 1)
	go func() { done <- n.Publish(context.Background(), "p:1", "t", nil) }()
	n.Retire()
	select {
	case err := <-done:
		if !errors.Is(err, ErrHandedOff) {
			t.Fatalf("publish on a retired node: %v, want ErrHandedOff", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("publish still waiting after Retire")
	}
	if got := n.Disconnect(ByUser, "u", CloseDisconnected, ""); got != 0 {
		t.Fatalf("Disconnect on a retired node: %d", got)
	}
	n.Unfreeze() // no effect
	if err := n.Publish(context.Background(), "p:1", "t", nil); !errors.Is(err, ErrHandedOff) {
		t.Fatalf("after Unfreeze of a retired node: %v", err)
	}
	if _, err := n.Resume(&fakeTransport{}, SessionState{ID: "x"}); !errors.Is(err, ErrHandedOff) {
		t.Fatalf("Resume on a retired node: %v", err)
	}
}

func TestImportRefusesBadState(t *testing.T) {
	good := ChannelState{Name: "p:1", ID: 1, Epoch: "e", Last: 2, History: []HistoryEntry{
		{Offset: 1, Event: json.RawMessage(`{}`)}, {Offset: 2, Event: json.RawMessage(`{}`)}}}
	for _, tc := range []struct {
		name string
		st   NodeState
	}{
		{"history not ending at last", NodeState{Channels: []ChannelState{{Name: "p:1", Epoch: "e", Last: 3, History: good.History}}}},
		{"history with a hole", NodeState{Channels: []ChannelState{{Name: "p:1", Epoch: "e", Last: 2,
			History: []HistoryEntry{{Offset: 0}, {Offset: 2}}}}}},
		{"no epoch", NodeState{Channels: []ChannelState{{Name: "p:1", Last: 2}}}},
		{"bad name", NodeState{Channels: []ChannelState{{Name: "p 1", Epoch: "e"}}}},
		{"twice", NodeState{Channels: []ChannelState{good, good}}},
		{"id twice", NodeState{Channels: []ChannelState{good, {Name: "p:2", ID: 1, Epoch: "e"}}}},
		{"more conn events than numbered", NodeState{ConnEvents: ConnEventsState{Epoch: "x", Next: 2,
			Lines: []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`{}`)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := New(Options{}).ImportState(tc.st); !errors.Is(err, ErrBadState) {
				t.Fatalf("got %v, want ErrBadState", err)
			}
		})
	}
	n := New(Options{})
	if _, err := n.Resume(&fakeTransport{}, SessionState{}); !errors.Is(err, ErrBadState) {
		t.Fatalf("Resume without id: %v", err)
	}
	if _, err := n.Resume(&fakeTransport{}, SessionState{ID: "x", Channels: []SubState{{Channel: "a"}, {Channel: "a"}}}); !errors.Is(err, ErrBadState) {
		t.Fatalf("Resume with a channel twice: %v", err)
	}
}

func TestHandoffStatesRoundTripJSON(t *testing.T) {
	st := NodeState{
		Channels: []ChannelState{{Name: "p:1", ID: 7, Epoch: "ab-7", Last: 2, Subscribers: 3,
			History: []HistoryEntry{{Offset: 2, At: 99, Event: json.RawMessage(`{"type":"t","offset":2}`)}}}},
		Idempotency:   []IdemState{{Channel: "p:1", Key: "k", Offset: 2, Epoch: "ab-7", At: 98}},
		ConnEvents:    ConnEventsState{Epoch: "ab-", Next: 5, Lines: []json.RawMessage{json.RawMessage(`{"seq":4}`)}},
		NextChannelID: 9,
	}
	if got := viaJSON(t, st); !reflect.DeepEqual(got, st) {
		t.Fatalf("NodeState round trip:\n got %+v\nwant %+v", got, st)
	}
	ss := SessionState{ID: "ab-1", Subject: "u", Info: json.RawMessage(`{"name":"Al"}`), Internal: true,
		Patterns: []string{"p:*"}, TokenID: "j", Expires: 123, Warned: true, ConnectedAt: 45,
		Channels: []SubState{{Channel: "p:1", Offset: 2, Epoch: "ab-7"}}}
	if got := viaJSON(t, ss); !reflect.DeepEqual(got, ss) {
		t.Fatalf("SessionState round trip:\n got %+v\nwant %+v", got, ss)
	}
	b, _ := json.Marshal(ss)
	if !strings.Contains(string(b), `"token_id":"j"`) || !strings.Contains(string(b), `"connected_at":45`) {
		t.Fatalf("not snake_case: %s", b)
	}
}

// A publisher keeps publishing while its node hands off: it moves to the
// new node when the old one is retired, and every subscriber sees every
// event once, in order, across its old and new connection.
func TestHandoffUnderLoadLosesNothing(t *testing.T) {
	const total = 2000
	a, b := New(handoffOptions()), New(handoffOptions())
	var sessions []*Session
	var olds []*fakeTransport
	for i := range 3 {
		s, ft := connect(t, a, "u"+strconv.Itoa(i), "*")
		subscribe(t, s, ft, "p:1")
		sessions, olds = append(sessions, s), append(olds, ft)
	}
	var cur atomic.Pointer[Node]
	cur.Store(a)
	var published atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := 0; i < total; {
			err := cur.Load().Publish(context.Background(), "p:1", "t", []byte(strconv.Itoa(i)))
			switch {
			case errors.Is(err, ErrHandedOff):
				cur.Store(b) // the root points its publishers at the new node
				continue
			case err != nil:
				done <- err
				return
			}
			published.Add(1)
			i++
		}
		done <- nil
	}()
	deadline := time.Now().Add(10 * time.Second)
	for published.Load() < total/4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	resumed, news := handOff(t, a, b, sessions...)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("publisher did not finish")
	}
	epoch := b.Channels()[0].Epoch
	for i := range olds {
		got := offsets(t, append(olds[i].messages(t), news[i].messages(t)...), epoch)
		if len(got) != total || got[0] != 1 || got[total-1] != total {
			t.Fatalf("session %d: %d events, want 1..%d", i, len(got), total)
		}
		for j := 1; j < len(got); j++ {
			if got[j] != got[j-1]+1 {
				t.Fatalf("session %d: %d after %d", i, got[j], got[j-1])
			}
		}
		if len(olds[i].messages(t)) == 0 || len(news[i].messages(t)) == 0 {
			t.Logf("session %d: the hand-off fell at an edge (%d old, %d new)", i, len(olds[i].messages(t)), len(news[i].messages(t)))
		}
		resumed[i].Closed(1000)
	}
}

func TestHandoffHistoryIsReframed(t *testing.T) {
	o := Options{DefaultChannel: ChannelOptions{HistorySize: 100}, Frame: testFrame}
	a, b := New(o), New(o)
	publishN(t, a, "p:1", 3)
	a.Freeze()
	st := viaJSON(t, a.ExportState())
	for _, e := range st.Channels[0].History {
		if e.Event[0] != '{' {
			t.Fatalf("exported event %q keeps the transport's framing", e.Event)
		}
	}
	if err := b.ImportState(st); err != nil {
		t.Fatal(err)
	}
	a.Retire()
	ctx := context.Background()
	pa, err := a.History(ctx, "p:1", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.History(ctx, "p:1", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pa, pb) || len(pb.Events) != 3 {
		t.Fatalf("history on B %+v, want A's %+v", pb, pa)
	}
	if a.Stats().HistoryBytes != b.Stats().HistoryBytes {
		t.Fatalf("history bytes: A %d, B %d", a.Stats().HistoryBytes, b.Stats().HistoryBytes)
	}
}

func TestHandoffKeepsTheTokenExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	o := Options{Now: clock.Now, ExpiryWarning: time.Minute}
	a, b := New(o), New(o)
	ft := &fakeTransport{}
	s := a.Connect(ft, Identity{Subject: "u", Expires: clock.Now().Add(90 * time.Second)})
	clock.advance(40 * time.Second)
	a.SweepExpiries()
	if msgs := ft.take(t); len(msgs) != 2 || msgs[1].str(t, "type") != "expiring" {
		t.Fatalf("before the hand-off: %v, want welcome and expiring", msgs)
	}
	_, fts := handOff(t, a, b, s)
	b.SweepExpiries() // warned already: not again
	if msgs := fts[0].take(t); len(msgs) != 0 {
		t.Fatalf("resumed session warned again: %v", msgs)
	}
	clock.advance(time.Minute)
	b.SweepExpiries()
	if c := fts[0].closeCalls(); len(c) != 1 || c[0].code != CloseTokenExpired {
		t.Fatalf("after expiry: closes %v, want one %d", c, CloseTokenExpired)
	}
}

func TestHandoffDropsHistoryItCannotUnframe(t *testing.T) {
	o := Options{DefaultChannel: ChannelOptions{HistorySize: 10},
		Frame: func(m []byte) []byte { return append(append([]byte(nil), m...), '\n') }}
	a := New(o)
	publishN(t, a, "p:1", 2)
	a.Freeze()
	st := viaJSON(t, a.ExportState())
	if len(st.Channels) != 1 || st.Channels[0].Last != 2 || st.Channels[0].History != nil {
		t.Fatalf("exported %+v, want p:1 at 2 without history", st.Channels)
	}
	a.Retire()
}

// stallingTransport stalls its first QueueEventAt until released, as a
// publish caught mid-delivery.
type stallingTransport struct {
	fakeTransport
	entered, release chan struct{}
	once             atomic.Bool
}

func (s *stallingTransport) QueueEventAt(msg []byte, key uint64, policy int, published int64) (bool, bool, int) {
	if s.once.CompareAndSwap(false, true) {
		close(s.entered)
		<-s.release
	}
	return s.fakeTransport.QueueEventAt(msg, key, policy, published)
}

func TestFreezeWaitsForADeliveryInProgress(t *testing.T) {
	n := New(Options{})
	st := &stallingTransport{entered: make(chan struct{}), release: make(chan struct{})}
	s := n.Connect(st, Identity{Subject: "u", Channels: []string{"*"}})
	st.take(t)
	subscribe(t, s, &st.fakeTransport, "p:1")
	published := make(chan error, 1)
	go func() { published <- n.Publish(context.Background(), "p:1", "t", nil) }()
	<-st.entered
	frozen := make(chan struct{})
	go func() { n.Freeze(); close(frozen) }()
	select {
	case <-frozen:
		t.Fatal("Freeze returned while a delivery was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(st.release)
	select {
	case <-frozen:
	case <-time.After(5 * time.Second):
		t.Fatal("Freeze did not return after the delivery")
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if ss := s.Export(); len(ss.Channels) != 1 || ss.Channels[0].Offset != 1 || len(st.raw()) != 1 {
		t.Fatalf("after Freeze: %+v, %d sent; want the delivered event at offset 1", ss.Channels, len(st.raw()))
	}
	n.Unfreeze()
	s.Closed(1000)
}
