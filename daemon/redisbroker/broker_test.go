package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/internal/redistest"
)

// nopHandler drops deliveries: these tests read positions and history.
type nopHandler struct{}

func (nopHandler) Deliver(string, daemon.BrokerEvent) {}
func (nopHandler) Resync()                            {}

func startBroker(t *testing.T, addr string) *Broker {
	t.Helper()
	b, err := New(Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(nopHandler{})
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestPositionsNeverReused: whatever Redis loses (everything, a channel's
// meta, its stream, a rollback of its offset with the same process, a
// restart), no (epoch, offset) is given twice, and a history asked from a
// position before the loss is never a partial replay marked complete.
func TestPositionsNeverReused(t *testing.T) {
	cases := []struct {
		name  string
		fault func(t *testing.T, r *redistest.Server)
	}{
		{"flushall", func(t *testing.T, r *redistest.Server) { do(t, r, "FLUSHALL") }},
		{"meta deleted", func(t *testing.T, r *redistest.Server) { do(t, r, "DEL fanoutd:m:{c}") }},
		{"stream deleted", func(t *testing.T, r *redistest.Server) { do(t, r, "DEL fanoutd:s:{c}") }},
		{"offset rolled back", func(t *testing.T, r *redistest.Server) { do(t, r, "HSET fanoutd:m:{c} offset 2") }},
		{"restart", func(t *testing.T, r *redistest.Server) { r.Kill(); r.Restart() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := redistest.Start(t)
			b := startBroker(t, r.Addr)
			given := map[string]bool{}
			publish := func(n int) (uint64, string) {
				t.Helper()
				var off uint64
				var epoch string
				for i := range n {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					o, e, _, err := b.Publish(ctx, "c", "t", fmt.Appendf(nil, "%d", i), "")
					cancel()
					if err != nil {
						t.Fatal(err)
					}
					p := fmt.Sprint(e, "/", o)
					if given[p] {
						t.Fatalf("position %s given twice", p)
					}
					given[p], off, epoch = true, o, e
				}
				return off, epoch
			}
			off, epoch := publish(5)
			tc.fault(t, r)
			publish(5)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			events, ok, err := b.History(ctx, "c", 3, epoch)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				// Only a full and true replay may be ok: 4..off, then the new ones.
				for i, e := range events {
					if e.Offset != uint64(4+i) || e.Epoch != epoch {
						t.Fatalf("replay %v after %d/%s is not a continuation", events, off, epoch)
					}
				}
				if tc.name != "stream deleted" && len(events) != 7 {
					t.Fatalf("replay of %d events after the fault, want 7 or recovered:false", len(events))
				}
			}
		})
	}
}

func do(t *testing.T, r *redistest.Server, cmd string) {
	t.Helper()
	if rep, err := r.Do(cmd); err != nil || rep[0] == '-' {
		t.Fatalf("%s: %q %v", cmd, rep, err)
	}
}

// TestConcurrentPublishesPipelined: publishes from many goroutines at once
// (sent together in pipelines) each get their own offset, and together
// they are exactly 1..N in one epoch.
func TestConcurrentPublishesPipelined(t *testing.T) {
	r := redistest.Start(t)
	b := startBroker(t, r.Addr)
	const publishers, each = 16, 50
	offsets := make(chan uint64, publishers*each)
	epochs := make(chan string, publishers*each)
	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			for i := range each {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				o, e, _, err := b.Publish(ctx, "c", "t", fmt.Appendf(nil, "%d", p*each+i), "")
				cancel()
				if err != nil {
					errs <- err
					return
				}
				offsets <- o
				epochs <- e
			}
			errs <- nil
		}()
	}
	for range publishers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(offsets)
	close(epochs)
	got := map[uint64]bool{}
	for o := range offsets {
		if got[o] {
			t.Fatalf("offset %d given twice", o)
		}
		got[o] = true
	}
	for o := uint64(1); o <= publishers*each; o++ {
		if !got[o] {
			t.Fatalf("offset %d missing", o)
		}
	}
	first := <-epochs
	for e := range epochs {
		if e != first {
			t.Fatalf("epochs %s and %s in one run", first, e)
		}
	}
}

// BenchmarkPublishParallel: 16 goroutines publishing single events to one
// channel straight to the broker (no HTTP, no subscriber): what the
// pipelines carry.
func BenchmarkPublishParallel(b *testing.B) {
	r := redistest.Start(b)
	br, err := New(Options{Addr: r.Addr})
	if err != nil {
		b.Fatal(err)
	}
	br.Start(nopHandler{})
	defer func() { _ = br.Close() }()
	payload := []byte(`{"n":1}`)
	b.SetParallelism(8) // × GOMAXPROCS 2: 16 publishers
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, _, err := br.Publish(context.Background(), "c", "t", payload, ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
}

// TestOneFailingEventSparesItsBatch: an event whose key Redis refuses
// (a meta key of the wrong type) fails alone, with an ordinary error (it
// did not run), while events sent in the same script call go through.
func TestOneFailingEventSparesItsBatch(t *testing.T) {
	r := redistest.Start(t)
	do(t, r, "SET fanoutd:m:{bad} x")
	b := startBroker(t, r.Addr)
	errs := make(chan error, 9)
	for i := range 9 {
		ch := "good"
		if i == 4 {
			ch = "bad"
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _, _, err := b.Publish(ctx, ch, "t", nil, "")
			if ch == "bad" {
				var unknown *OutcomeUnknownError
				if err == nil || errors.As(err, &unknown) {
					err = fmt.Errorf("bad channel: %v, want a plain error", err)
				} else {
					err = nil
				}
			}
			errs <- err
		}()
	}
	for range 9 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestPresenceWrittenAgainAfterFlush: Redis loses everything (FLUSHALL);
// the node's heartbeat notices its liveness key gone and writes its
// presence entries again, with no restart.
func TestPresenceWrittenAgainAfterFlush(t *testing.T) {
	r := redistest.Start(t)
	b, err := New(Options{Addr: r.Addr})
	if err != nil {
		t.Fatal(err)
	}
	b.nodeRefresh = 100 * time.Millisecond
	b.Start(nopHandler{})
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.SetPresence(ctx, "room", daemon.Client{ConnectionID: "c1", User: "ann"}, true); err != nil {
		t.Fatal(err)
	}
	do(t, r, "FLUSHALL")
	for {
		clients, err := b.Presence(ctx, "room")
		if err == nil && len(clients) == 1 && clients[0].User == "ann" {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("presence after FLUSHALL: %v %v, want ann back", clients, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPresenceLostBeforeFirstHeartbeatWrittenAgain: Redis loses the
// node's presence before the node's first heartbeat ran (here: written
// before Start, then FLUSHALL). That first heartbeat finds no liveness key
// either, and must still write the presence again: it used to take the
// missing key for a first start and never write it.
func TestPresenceLostBeforeFirstHeartbeatWrittenAgain(t *testing.T) {
	r := redistest.Start(t)
	b, err := New(Options{Addr: r.Addr})
	if err != nil {
		t.Fatal(err)
	}
	b.nodeRefresh = 100 * time.Millisecond
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.SetPresence(ctx, "room", daemon.Client{ConnectionID: "c1", User: "ann"}, true); err != nil {
		t.Fatal(err)
	}
	do(t, r, "FLUSHALL")
	b.Start(nopHandler{})
	for {
		clients, err := b.Presence(ctx, "room")
		if err == nil && len(clients) == 1 && clients[0].User == "ann" {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("presence after a FLUSHALL before the first heartbeat: %v %v, want ann back", clients, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHistoryOfAnUnusedChannel: a channel nobody published to is at
// offset 0 of no epoch, and a history from there is complete (nothing to
// miss), so a node's catch-up tells its subscribers nothing.
func TestHistoryOfAnUnusedChannel(t *testing.T) {
	r := redistest.Start(t)
	b := startBroker(t, r.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	off, epoch, err := b.Position(ctx, "quiet")
	if err != nil || off != 0 || epoch != "" {
		t.Fatalf("position %d %q %v, want 0 and no epoch", off, epoch, err)
	}
	events, ok, err := b.History(ctx, "quiet", 0, "")
	if err != nil || !ok || len(events) != 0 {
		t.Fatalf("history %v %v %v, want complete and empty", events, ok, err)
	}
}
