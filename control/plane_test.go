package control

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

// startPlane runs a plane until the test ends.
func startPlane(t *testing.T, o Options) *Plane {
	t.Helper()
	p := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return p
}

func waitPeers(t *testing.T, p *Plane, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(p.Peers()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("peers %v, want %d", p.Peers(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDoReachesEveryNode: an action is applied by every plane on the bus
// and the answer adds their counts.
func TestDoReachesEveryNode(t *testing.T) {
	bus := &hubBus{}
	nodes := []*fakeNode{{n: 1}, {n: 2}, {n: 0}}
	var planes []*Plane
	for i, n := range nodes {
		planes = append(planes, startPlane(t, Options{Node: n, Bus: bus.port(), NodeID: string(rune('a' + i))}))
	}
	for _, p := range planes {
		waitPeers(t, p, 3)
	}
	r, err := planes[1].Do(context.Background(), Action{Op: OpSubscribe, By: "user", Value: "ann", Channel: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Applied != 3 || len(r.Nodes) != 3 || len(r.Missing) != 0 {
		t.Fatalf("result %+v", r)
	}
	for i, n := range nodes {
		n.mu.Lock()
		if len(n.calls) != 1 || n.calls[0] != "subscribe user=ann c" {
			t.Errorf("node %d calls %v", i, n.calls)
		}
		n.mu.Unlock()
	}
}

// TestDoNamesSilentNodes: a node that says hello but never answers is
// named in the answer once the deadline passes.
func TestDoNamesSilentNodes(t *testing.T) {
	bus := &hubBus{}
	p := startPlane(t, Options{Node: &fakeNode{n: 1}, Bus: bus.port(), NodeID: "a", Timeout: 200 * time.Millisecond})
	silent := bus.port()
	hello, _ := json.Marshal(envelope{Kind: "hello", From: "mute"})
	if err := silent.Send(context.Background(), hello); err != nil {
		t.Fatal(err)
	}
	waitPeers(t, p, 2)
	r, err := p.Do(context.Background(), Action{Op: OpDisconnect, By: "user", Value: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Applied != 1 || len(r.Missing) != 1 || r.Missing[0] != "mute" {
		t.Fatalf("result %+v, want mute missing", r)
	}
	bye, _ := json.Marshal(envelope{Kind: "bye", From: "mute"})
	_ = silent.Send(context.Background(), bye)
	waitPeers(t, p, 1)
}

// TestRevocationsExpire: Revoked holds until the end, then not; sweep
// forgets it.
func TestRevocationsExpire(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := New(Options{Node: &fakeNode{}, Now: clock})
	if _, _, err := p.apply(context.Background(), Action{Op: OpRevoke, By: "jti", Value: "t1", Until: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Revoked("ann", "t1"); !ok {
		t.Fatal("jti t1 not revoked")
	}
	if _, ok := p.Revoked("ann", "t2"); ok {
		t.Fatal("jti t2 revoked")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, ok := p.Revoked("", "t1"); ok {
		t.Fatal("still revoked after its end")
	}
	p.revoked.sweep(clock())
	if len(p.revoked.list(clock())) != 0 || len(p.revoked.m) != 0 {
		t.Fatal("an ended revocation was kept")
	}
}

// memStore is a Store in memory that can fail.
type memStore struct {
	mu   sync.Mutex
	m    map[string]time.Time
	fail bool
}

func (s *memStore) PutRevocation(_ context.Context, key string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("down")
	}
	s.m[key] = until
	return nil
}

func (s *memStore) Revocations(context.Context) (map[string]time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return nil, errors.New("down")
	}
	return s.m, nil
}

// TestRevocationsKeptByTheStore: a revocation is stored before it is
// applied, refused whole when the store is down, and loaded by a new plane.
func TestRevocationsKeptByTheStore(t *testing.T) {
	st := &memStore{m: map[string]time.Time{}, fail: true}
	node := &fakeNode{}
	p := startPlane(t, Options{Node: node, Store: st})
	a := Action{Op: OpRevoke, By: "user", Value: "ann", Until: time.Now().Add(time.Hour)}
	if _, err := p.Do(context.Background(), a); !errors.Is(err, ErrStore) {
		t.Fatalf("Do with the store down: %v, want ErrStore", err)
	}
	node.mu.Lock()
	if len(node.calls) != 0 {
		t.Fatalf("applied although not stored: %v", node.calls)
	}
	node.mu.Unlock()
	st.mu.Lock()
	st.fail = false
	st.mu.Unlock()
	if _, err := p.Do(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	restarted := New(Options{Node: &fakeNode{}, Store: st})
	if err := restarted.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := restarted.Revoked("ann", ""); !ok {
		t.Fatal("the restarted plane does not know the revocation")
	}
}

// TestSlowTapNeverBlocks: a tap nobody reads fills up and then drops,
// and Event keeps returning; a tap on other channels gets nothing.
func TestSlowTapNeverBlocks(t *testing.T) {
	p := New(Options{Node: &fakeNode{}, TapBuffer: 4})
	slow := p.taps.add("project:*")
	other := p.taps.add("user:*, room:1")
	for i := range 100 {
		p.Event("project:a", "t", []byte(`{"i":1}`), uint64(i), "e")
	}
	if len(slow.lines) != 4 || slow.dropped.Load() != 96 {
		t.Fatalf("queued %d, dropped %d; want 4 and 96", len(slow.lines), slow.dropped.Load())
	}
	if len(other.lines) != 0 {
		t.Fatal("a tap got another channel's events")
	}
	p.Event("room:1", "t", nil, 1, "e")
	if len(other.lines) != 1 {
		t.Fatal("room:1 not tapped")
	}
	p.taps.remove(slow)
	p.taps.remove(other)
	if p.taps.open.Load() != 0 {
		t.Fatal("taps still counted")
	}

	// Another node's tap: lines queue for the bus, and drop once the queue
	// is full (nothing sends them here).
	p.mu.Lock()
	p.noteRemoteTaps("b", []string{"project:*"})
	p.mu.Unlock()
	before := p.Stats().TapDropped
	for i := range 2 * forwardQueue {
		p.Event("project:a", "t", nil, uint64(i), "e")
	}
	p.Event("user:x", "t", nil, 1, "e") // not followed there: not queued
	if len(p.forward) != forwardQueue || p.Stats().TapDropped-before != forwardQueue {
		t.Fatalf("forward queue %d, dropped %d", len(p.forward), p.Stats().TapDropped-before)
	}
}

// BenchmarkEventNoTap is the publish path's cost of the tap while none is
// open.
func BenchmarkEventNoTap(b *testing.B) {
	p := New(Options{Node: &fakeNode{}})
	payload := []byte(`{"status":"done"}`)
	b.ReportAllocs()
	for b.Loop() {
		p.Event("project:a", "story.status.changed", payload, 1, "e")
	}
}

// TestActionChecks: the validation table.
func TestActionChecks(t *testing.T) {
	now := time.Now()
	for name, c := range map[string]struct {
		a  Action
		ok bool
	}{
		"disconnect user":           {Action{Op: OpDisconnect, By: "user", Value: "u"}, true},
		"disconnect no value":       {Action{Op: OpDisconnect, By: "user"}, false},
		"disconnect code 1000":      {Action{Op: OpDisconnect, By: "user", Value: "u", Code: 1000}, false},
		"revoke channel":            {Action{Op: OpRevoke, By: "channel", Value: "c", Until: now.Add(time.Hour)}, false},
		"revoke too long":           {Action{Op: OpRevoke, By: "user", Value: "u", Until: now.Add(2 * 365 * 24 * time.Hour)}, false},
		"subscribe by channel":      {Action{Op: OpSubscribe, By: "channel", Value: "c", Channel: "d"}, false},
		"unsubscribe every member":  {Action{Op: OpUnsubscribe, Channel: "c"}, true},
		"clear history no channel":  {Action{Op: OpClearHistory}, false},
		"unknown op":                {Action{Op: "explode"}, false},
		"unrevoke jti":              {Action{Op: OpUnrevoke, By: "jti", Value: "x"}, true},
		"subscribe by connection":   {Action{Op: OpSubscribe, By: "connection_id", Value: "x", Channel: "c"}, true},
		"disconnect by token id":    {Action{Op: OpDisconnect, By: "jti", Value: "x"}, true},
		"revoke user for an hour":   {Action{Op: OpRevoke, By: "user", Value: "u", Until: now.Add(time.Hour)}, true},
		"revoke user ended already": {Action{Op: OpRevoke, By: "user", Value: "u", Until: now.Add(-time.Second)}, false},
	} {
		err := c.a.check(now, 365*24*time.Hour)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// downBus refuses every message.
type downBus struct{}

func (downBus) Send(context.Context, []byte) error { return errors.New("broker down") }

func (downBus) Receive(ctx context.Context, _ func([]byte)) error { <-ctx.Done(); return nil }

// TestDoWithTheBusDown: an action that cannot be sent is ErrBus (503),
// and nothing is applied.
func TestDoWithTheBusDown(t *testing.T) {
	node := &fakeNode{}
	p := New(Options{Node: node, Bus: downBus{}})
	_, err := p.Do(context.Background(), Action{Op: OpDisconnect, By: "user", Value: "ann"})
	if !errors.Is(err, ErrBus) || errStatus(err) != 503 {
		t.Fatalf("Do: %v, want ErrBus", err)
	}
	if len(node.calls) != 0 {
		t.Fatalf("applied: %v", node.calls)
	}
}
