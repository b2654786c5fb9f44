package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/internal/natstest"
	"github.com/nats-io/nats.go"
)

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu  sync.Mutex
	evs []daemon.BrokerEvent
}

func (r *recorder) Deliver(_ string, ev daemon.BrokerEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) Resync() {}

func (r *recorder) events() []daemon.BrokerEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]daemon.BrokerEvent(nil), r.evs...)
}

// waitFor polls until r holds n events (at most 10 s).
func (r *recorder) waitFor(t *testing.T, n int) []daemon.BrokerEvent {
	t.Helper()
	for range 200 {
		if evs := r.events(); len(evs) >= n {
			return evs
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs := r.events()
	t.Fatalf("received %d events, want %d", len(evs), n)
	return evs
}

func newBroker(t *testing.T, url string) (*Broker, *recorder) {
	t.Helper()
	b, err := New(Options{URL: url, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	r := &recorder{}
	b.Start(r)
	return b, r
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestLosingPublishIsNeverDeliveredLive: a publish that loses the
// channel's compare-and-set (here another node's, written by hand with the
// headers a node writes) stores nothing, and no node may deliver it.
func TestLosingPublishIsNeverDeliveredLive(t *testing.T) {
	n := natstest.Start(t)
	ctx := testCtx(t)
	b, r := newBroker(t, n.URL)
	if _, _, err := b.Subscribe(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := b.Publish(ctx, "c", "t", []byte("1"), ""); err != nil {
		t.Fatal(err)
	}
	first := r.waitFor(t, 1)[0]

	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	loser := nats.NewMsg(b.subject("c"))
	loser.Header.Set(hdrOffset, "1")
	loser.Header.Set(hdrEpoch, first.Epoch)
	loser.Header.Set(hdrType, "t")
	loser.Header.Set("Nats-Expected-Last-Subject-Sequence", "0") // stale: loses
	loser.Data = []byte("loser")
	resp, err := nc.RequestMsg(loser, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := b.Publish(ctx, "c", "t", []byte("2"), ""); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, 2)
	time.Sleep(200 * time.Millisecond) // anything else in flight arrives
	evs := r.events()
	for i, ev := range evs {
		if ev.Offset != uint64(i+1) || string(ev.Payload) != strconv.Itoa(i+1) {
			t.Fatalf("delivered %+v (%q) as event %d; the refused publish answered %s", ev, ev.Payload, i+1, resp.Data)
		}
	}
}

// TestTwoBrokersRacingOnOneChannel: two nodes, eight publishers, one
// channel: every publish is acknowledged at a position of its own, and
// both nodes receive exactly the acknowledged events, in order.
func TestTwoBrokersRacingOnOneChannel(t *testing.T) {
	n := natstest.Start(t)
	ctx := testCtx(t)
	var bs []*Broker
	var rs []*recorder
	for range 2 {
		b, r := newBroker(t, n.URL)
		if _, _, err := b.Subscribe(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		bs, rs = append(bs, b), append(rs, r)
	}
	var mu sync.Mutex
	acked := map[uint64]string{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 30 {
				p := fmt.Sprint(i*100 + j)
				o, _, _, err := bs[i%2].Publish(ctx, "c", "t", []byte(p), "")
				mu.Lock()
				switch {
				case err != nil:
					t.Error(err)
				case acked[o] != "":
					t.Errorf("offset %d acknowledged twice", o)
				}
				acked[o] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for k, r := range rs {
		for i, ev := range r.waitFor(t, len(acked)) {
			if ev.Offset != uint64(i+1) || string(ev.Payload) != acked[ev.Offset] {
				t.Fatalf("node %d, event %d: %+v %q, acknowledged %q", k, i+1, ev, ev.Payload, acked[ev.Offset])
			}
		}
	}
}

// freezer is a TCP proxy in front of nats-server whose server-to-client
// direction can be stopped: requests reach the server, answers do not.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
			go func() { _, _ = io.Copy(s, c) }()
			go f.copyBack(c, s)
		}
	}()
	return f
}

// copyBack forwards the server's bytes unless frozen (then they are
// dropped, as on a link that lost them).
func (f *freezer) copyBack(c, s net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if err != nil {
			return
		}
		if f.frozen.Load() {
			continue
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// TestOutcomeUnknownAfterSend: the publish reached the server but its
// answer was lost: the error says the outcome is unknown (the API answers
// 504), and a retry with the same idempotency key returns the position
// the first attempt got, marked duplicate.
func TestOutcomeUnknownAfterSend(t *testing.T) {
	n := natstest.Start(t)
	ctx := testCtx(t)
	f := newFreezer(t, n.URL[len("nats://"):])
	b, _ := newBroker(t, "nats://"+f.ln.Addr().String())
	if _, _, _, err := b.Publish(ctx, "c", "t", []byte("1"), ""); err != nil {
		t.Fatal(err)
	}
	f.frozen.Store(true)
	_, _, _, err := b.Publish(ctx, "c", "t", []byte("2"), "key-2")
	var unknown interface{ OutcomeUnknown() bool }
	if !errors.As(err, &unknown) || !unknown.OutcomeUnknown() {
		t.Fatalf("publish with the answer lost: %v, want an error with OutcomeUnknown() true", err)
	}
	f.frozen.Store(false)
	offset, _, dup, err := b.Publish(ctx, "c", "t", []byte("2"), "key-2")
	if err != nil || !dup || offset != 2 {
		t.Fatalf("retry with the key: offset %d dup %v err %v, want offset 2 as a duplicate", offset, dup, err)
	}
	offset, _, _, err = b.Publish(ctx, "c", "t", []byte("3"), "")
	if err != nil || offset != 3 {
		t.Fatalf("next publish: offset %d err %v, want 3", offset, err)
	}
}
