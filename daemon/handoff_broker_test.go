package daemon

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// brokerHub is an in-memory broker shared by the nodes of a test: it
// numbers and keeps every channel's events and delivers each publish, in
// order, to the nodes subscribed, synchronously through Node.Deliver.
type brokerHub struct {
	mu    sync.Mutex
	chans map[string]*brokerChannel
	// onSubscribe, when set, runs after each Subscribe has taken its
	// position, before it returns (events published then must be
	// delivered); failSubscribe makes Subscribe fail.
	onSubscribe   func()
	failSubscribe bool
	histories     int // History calls
	subscribes    int // Subscribe calls
}

type brokerChannel struct {
	epoch  string
	events []BrokerEvent // every event still kept, oldest first
	last   uint64
	subs   map[*Node]int
}

// newBrokerHub returns a hub whose test, at its end, waits for the nodes'
// unsubscribes (Node.unlink runs on its own goroutine): a later test must
// not find this one's nodes still alive, nor goleak its goroutines.
func newBrokerHub(t *testing.T) *brokerHub {
	h := &brokerHub{chans: map[string]*brokerChannel{}}
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for h.linked() > 0 {
			if time.Now().After(deadline) {
				t.Errorf("%d channel links left at the broker after the test", h.linked())
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	return h
}

// linked counts the nodes' subscriptions to channels.
func (h *brokerHub) linked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.chans {
		n += len(c.subs)
	}
	return n
}

func (h *brokerHub) channel(name string) *brokerChannel {
	c := h.chans[name]
	if c == nil {
		c = &brokerChannel{epoch: "e1", subs: map[*Node]int{}}
		h.chans[name] = c
	}
	return c
}

func (h *brokerHub) setOnSubscribe(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onSubscribe = f
}

func (h *brokerHub) setFailSubscribe(fail bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failSubscribe = fail
}

// publish stores an event and delivers it to the subscribed nodes.
func (h *brokerHub) publish(name, typ string, payload []byte) (uint64, string) {
	h.mu.Lock()
	c := h.channel(name)
	c.last++
	ev := BrokerEvent{Offset: c.last, Epoch: c.epoch, Type: typ, Payload: payload}
	c.events = append(c.events, ev)
	var nodes []*Node
	for n := range c.subs {
		nodes = append(nodes, n)
	}
	h.mu.Unlock()
	for _, n := range nodes {
		n.Deliver(name, ev)
	}
	return ev.Offset, ev.Epoch
}

// restart forgets the channel's events and numbering: a new epoch, as a
// broker that lost its data.
func (h *brokerHub) restart(name, epoch string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.channel(name)
	c.epoch, c.events, c.last = epoch, nil, 0
}

// trim keeps only the channel's last keep events.
func (h *brokerHub) trim(name string, keep int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.channel(name)
	c.events = slices.Clone(c.events[max(0, len(c.events)-keep):])
}

// fakeBroker is one node's view of a brokerHub (Options.Broker); node is
// set once New has returned.
type fakeBroker struct {
	hub  *brokerHub
	node *Node
}

var _ Broker = (*fakeBroker)(nil)

func (b *fakeBroker) Publish(_ context.Context, channel, eventType string, payload []byte, _ string) (uint64, string, bool, error) {
	o, e := b.hub.publish(channel, eventType, payload)
	return o, e, false, nil
}

func (b *fakeBroker) Subscribe(_ context.Context, channel string) (uint64, string, error) {
	b.hub.mu.Lock()
	b.hub.subscribes++
	if b.hub.failSubscribe {
		b.hub.mu.Unlock()
		return 0, "", errors.New("broker down")
	}
	c := b.hub.channel(channel)
	c.subs[b.node]++
	last, epoch, hook := c.last, c.epoch, b.hub.onSubscribe
	b.hub.mu.Unlock()
	if hook != nil {
		hook()
	}
	return last, epoch, nil
}

func (b *fakeBroker) Position(_ context.Context, channel string) (uint64, string, error) {
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	c := b.hub.channel(channel)
	return c.last, c.epoch, nil
}

func (b *fakeBroker) Unsubscribe(_ context.Context, channel string) error {
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	c := b.hub.channel(channel)
	if c.subs[b.node]--; c.subs[b.node] <= 0 {
		delete(c.subs, b.node)
	}
	return nil
}

func (b *fakeBroker) History(_ context.Context, channel string, after uint64, epoch string) ([]BrokerEvent, bool, error) {
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	b.hub.histories++
	c := b.hub.channel(channel)
	if epoch != c.epoch || after > c.last {
		return nil, false, nil
	}
	if after < c.last && (len(c.events) == 0 || c.events[0].Offset > after+1) {
		return nil, false, nil // trimmed
	}
	var out []BrokerEvent
	for _, e := range c.events {
		if e.Offset > after {
			out = append(out, e)
		}
	}
	return out, true, nil
}

// brokerNode is a node on hub.
func brokerNode(hub *brokerHub) *Node {
	b := &fakeBroker{hub: hub}
	n := New(Options{Broker: b})
	b.node = n
	return n
}

// eventOffsets returns the offsets of the event frames among msgs, in order,
// as "epoch/offset", and the other frames' types.
func eventOffsets(t *testing.T, msgs []wireMsg) (events, others []string) {
	t.Helper()
	for _, m := range msgs {
		if _, ok := m["offset"]; ok && m.str(t, "type") != "subscribed" {
			events = append(events, m.str(t, "epoch")+"/"+m.rawField("offset"))
			continue
		}
		others = append(others, m.str(t, "type"))
	}
	return events, others
}

func seqOf(epoch string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, epoch+"/"+strconv.Itoa(i))
	}
	return out
}

func TestHandoffBrokerDeliversWhatTheHandoffMissedOnce(t *testing.T) {
	hub := newBrokerHub(t)
	a, b := brokerNode(hub), brokerNode(hub)
	s, ft := connect(t, a, "u", "*")
	subscribe(t, s, ft, "p:1")
	publishN(t, a, "p:1", 3)
	if ev, _ := eventOffsets(t, ft.take(t)); !slices.Equal(ev, seqOf("e1", 1, 3)) {
		t.Fatalf("before: %v", ev)
	}

	a.Freeze()
	st := viaJSON(t, a.ExportState())
	ss := viaJSON(t, s.Export())
	hub.publish("p:1", "t", nil) // another node publishes meanwhile:
	hub.publish("p:1", "t", nil) // A keeps them aside, B must send them
	if err := b.ImportState(st); err != nil {
		t.Fatal(err)
	}
	ft2 := &fakeTransport{}
	r, err := b.Resume(ft2, ss)
	if err != nil {
		t.Fatal(err)
	}
	s.Detach()
	hub.publish("p:1", "t", nil)
	publishN(t, b, "p:1", 1)
	ev, others := eventOffsets(t, ft2.take(t))
	if !slices.Equal(ev, seqOf("e1", 4, 7)) || len(others) != 0 {
		t.Fatalf("after resume: events %v, others %v; want e1/4..7 and nothing else", ev, others)
	}
	if len(ft.raw()) != 0 {
		t.Fatalf("the old transport was sent %d messages after the freeze", len(ft.raw()))
	}
	r.Closed(1000)
}

func TestHandoffBrokerGapSignal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(h *brokerHub)
		after   []string
	}{
		{"new epoch", func(h *brokerHub) { h.restart("p:1", "e2"); h.publish("p:1", "t", nil) }, seqOf("e2", 2, 2)},
		{"trimmed", func(h *brokerHub) {
			for range 5 {
				h.publish("p:1", "t", nil)
			}
			h.trim("p:1", 2)
		}, seqOf("e1", 9, 9)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newBrokerHub(t)
			a, b := brokerNode(hub), brokerNode(hub)
			s, ft := connect(t, a, "u", "*")
			subscribe(t, s, ft, "p:1")
			publishN(t, a, "p:1", 3)
			a.Freeze()
			ss := viaJSON(t, s.Export())
			s.Detach()
			tc.breakIt(hub)
			ft2 := &fakeTransport{}
			r, err := b.Resume(ft2, ss)
			if err != nil {
				t.Fatal(err)
			}
			msgs := ft2.take(t)
			if len(msgs) != 1 || msgs[0].str(t, "type") != "missed" || msgs[0].str(t, "channel") != "p:1" {
				t.Fatalf("on resume: %v, want one missed notice for p:1", msgs)
			}
			hub.publish("p:1", "t", nil)
			if ev, others := eventOffsets(t, ft2.take(t)); !slices.Equal(ev, tc.after) || len(others) != 0 {
				t.Fatalf("after the notice: %v %v, want %v", ev, others, tc.after)
			}
			r.Closed(1000)
		})
	}
}

func TestUnfreezeDeliversHeldBrokerEvents(t *testing.T) {
	hub := newBrokerHub(t)
	a := brokerNode(hub)
	s, ft := connect(t, a, "u", "*")
	subscribe(t, s, ft, "p:1")
	publishN(t, a, "p:1", 1)
	ft.reset()
	a.Freeze()
	for range 3 {
		hub.publish("p:1", "t", nil)
	}
	a.Resync() // kept for Unfreeze too
	if len(ft.raw()) != 0 {
		t.Fatal("delivered while frozen")
	}
	a.Unfreeze()
	hub.publish("p:1", "t", nil)
	if ev, others := eventOffsets(t, ft.take(t)); !slices.Equal(ev, seqOf("e1", 2, 5)) || len(others) != 0 {
		t.Fatalf("after Unfreeze: %v %v, want e1/2..5 once each", ev, others)
	}
	s.Closed(1000)
}

func TestUnfreezeCatchesUpPastTheHeldBound(t *testing.T) {
	hub := newBrokerHub(t)
	a := brokerNode(hub)
	s, ft := connect(t, a, "u", "*")
	subscribe(t, s, ft, "p:1")
	a.Freeze()
	total := heldMax + 10
	for range total {
		hub.publish("p:1", "t", nil)
	}
	a.Unfreeze()
	ev, others := eventOffsets(t, ft.take(t))
	if !slices.Equal(ev, seqOf("e1", 1, total)) || len(others) != 0 {
		t.Fatalf("after Unfreeze: %d events (%v…), others %v; want e1/1..%d once each", len(ev), ev[:min(3, len(ev))], others, total)
	}
	s.Closed(1000)
}

// Events published while the new node links the channel wait in its
// pending list and follow the catch-up, each once.
func TestHandoffBrokerEventsDuringTheLink(t *testing.T) {
	hub := newBrokerHub(t)
	a, b := brokerNode(hub), brokerNode(hub)
	s, ft := connect(t, a, "u", "*")
	subscribe(t, s, ft, "p:1")
	publishN(t, a, "p:1", 2)
	a.Freeze()
	ss := viaJSON(t, s.Export())
	s.Detach()
	hub.publish("p:1", "t", nil)                                // 3: from the broker's history
	hub.setOnSubscribe(func() { hub.publish("p:1", "t", nil) }) // 4: pending
	ft2 := &fakeTransport{}
	r, err := b.Resume(ft2, ss)
	if err != nil {
		t.Fatal(err)
	}
	hub.setOnSubscribe(nil)
	hub.publish("p:1", "t", nil)
	if ev, others := eventOffsets(t, ft2.take(t)); !slices.Equal(ev, seqOf("e1", 3, 5)) || len(others) != 0 {
		t.Fatalf("after resume: %v %v, want e1/3..5 once each", ev, others)
	}
	r.Closed(1000)
}

func TestHandoffBrokerRefusesASubscription(t *testing.T) {
	hub := newBrokerHub(t)
	a, b := brokerNode(hub), brokerNode(hub)
	s, ft := connect(t, a, "u", "*")
	subscribe(t, s, ft, "p:1")
	a.Freeze()
	ss := viaJSON(t, s.Export())
	s.Detach()
	hub.setFailSubscribe(true)
	ft2 := &fakeTransport{}
	r, err := b.Resume(ft2, ss)
	if err != nil {
		t.Fatal(err)
	}
	m := ft2.only(t)
	if m.str(t, "type") != "unsubscribed" || m.str(t, "channel") != "p:1" || m.str(t, "code") != "unavailable" {
		t.Fatalf("got %v, want unsubscribed p:1 with code unavailable", m)
	}
	if st := b.Stats(); st.Connections != 1 || st.Subscriptions != 0 {
		t.Fatalf("B counts %d connections, %d subscriptions; want 1, 0", st.Connections, st.Subscriptions)
	}
	r.Closed(1000)
}

// Sessions resumed from one position cost one broker round trip between
// them, and each still gets every event once.
func TestHandoffBrokerOneHistoryFetchPerPosition(t *testing.T) {
	hub := newBrokerHub(t)
	a, b := brokerNode(hub), brokerNode(hub)
	var olds []*Session
	for i := range 5 {
		s, ft := connect(t, a, "u"+strconv.Itoa(i), "*")
		subscribe(t, s, ft, "p:1")
		olds = append(olds, s)
	}
	publishN(t, a, "p:1", 2)
	a.Freeze()
	var states []SessionState
	for _, s := range olds {
		states = append(states, viaJSON(t, s.Export()))
		s.Detach()
	}
	hub.publish("p:1", "t", nil)
	hub.publish("p:1", "t", nil)
	hub.mu.Lock()
	before := hub.histories
	hub.mu.Unlock()
	var fts []*fakeTransport
	for _, ss := range states {
		ft := &fakeTransport{}
		r, err := b.Resume(ft, ss)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Closed(1000)
		fts = append(fts, ft)
	}
	hub.mu.Lock()
	fetches := hub.histories - before
	hub.mu.Unlock()
	if fetches != 1 {
		t.Fatalf("%d history fetches for 5 sessions at one position, want 1", fetches)
	}
	hub.publish("p:1", "t", nil)
	for i, ft := range fts {
		if ev, others := eventOffsets(t, ft.take(t)); !slices.Equal(ev, seqOf("e1", 3, 5)) || len(others) != 0 {
			t.Fatalf("session %d: %v %v, want e1/3..5", i, ev, others)
		}
	}
}
