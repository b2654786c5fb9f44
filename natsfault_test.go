package fanoutd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/natstest"
	"github.com/fanoutd/fanoutd/ipc"
)

// publishAt publishes one event and returns its acknowledged position.
func publishAt(ctx context.Context, d *testDaemon, c *ipc.Client, channel, payload string) (ipc.Position, error) {
	ps, err := c.PublishEvents(ctx, []ipc.Event{{Channel: channel, Type: "t", Payload: json.RawMessage(payload)}})
	if err != nil {
		return ipc.Position{}, err
	}
	return ps[0], nil
}

// publishUntilOK retries a publish for at most 20 s (the broker heals in
// the background); it fails the test when it never succeeds.
func publishUntilOK(t *testing.T, d *testDaemon, channel, payload string) ipc.Position {
	t.Helper()
	var err error
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var p ipc.Position
		p, err = publishAt(ctx, d, d.pub, channel, payload)
		cancel()
		if err == nil {
			return p
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("publish still failing after 20 s: %v", err)
	return ipc.Position{}
}

// TestNATSStreamLostIsRecreated: nats-server restarted on an empty store
// (the stream is gone). The daemon recreates the stream by itself:
// publishes succeed again under a new epoch, the subscriber is told its
// sequence broke, and /readyz comes back to 200.
func TestNATSStreamLostIsRecreated(t *testing.T) {
	n := natstest.Start(t)
	d := startDaemon(t, onNATS(n))
	w := d.dial(token(t, "sam", "*"))
	w.subscribe("c")
	first := publishUntilOK(t, d, "c", "1")
	if m := w.expectEvent("c", "t"); m["offset"] != float64(1) {
		t.Fatalf("got %v", m)
	}

	n.Stop()
	n.RestartEmpty()
	p := publishUntilOK(t, d, "c", "2")
	if p.Epoch == first.Epoch || p.Offset != 1 {
		t.Fatalf("after the stream was lost: %+v, want offset 1 in a new epoch (was %+v)", p, first)
	}
	sawMissed := false
	for range 5 {
		m := w.next()
		if m["type"] == "missed" {
			sawMissed = true
			continue
		}
		if m["type"] == "t" {
			if !sawMissed || m["epoch"] != p.Epoch || m["offset"] != float64(1) || m["payload"] != float64(2) {
				t.Fatalf("event %v (missed before it: %v), want offset 1 of epoch %s after a missed frame", m, sawMissed, p.Epoch)
			}
			break
		}
	}
	// A client resuming from before the loss is told to refetch: the old
	// epoch's positions cannot be replayed, and offset 1 now names another
	// event.
	w2 := d.dial(token(t, "sam", "*"))
	if r := w2.subscribeSince("c", first.Offset, first.Epoch); r["recovered"] != false {
		t.Fatalf("resuming from %+v after the stream was lost: %v, want recovered:false", first, r)
	}
	var code int
	var body string
	for range 100 {
		if code, body = get(t, "http://"+d.addr+"/readyz"); code == http.StatusOK {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != http.StatusOK {
		t.Fatalf("/readyz after the stream came back: %d %s", code, body)
	}
}

// TestNATSReadinessSaysWhy: with JetStream gone from the server, /readyz
// names the reason rather than a bare "down"; with JetStream back,
// publishes resume without a daemon restart.
func TestNATSReadinessSaysWhy(t *testing.T) {
	n := natstest.Start(t)
	d := startDaemon(t, onNATS(n))
	publishUntilOK(t, d, "c", "1")
	n.Stop()
	n.RestartNoJetStream()
	var code int
	var body string
	for range 100 {
		code, body = get(t, "http://"+d.addr+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "JetStream not enabled") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "JetStream not enabled") {
		t.Fatalf("/readyz with JetStream off: %d %s, want 503 saying JetStream is not enabled", code, body)
	}
	// JetStream back: the daemon picks up by itself.
	n.Stop()
	n.Restart()
	publishUntilOK(t, d, "c", "2")
}

// TestNATSConcurrentPublishersOneChannel: 16 publishers on one channel of
// one node: every publish is accepted (the node orders them itself instead
// of racing its own compare-and-set), and the offsets are 1..N, each once.
func TestNATSConcurrentPublishersOneChannel(t *testing.T) {
	n := natstest.Start(t)
	d := startDaemon(t, onNATS(n))
	const workers, each = 16, 40
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var errs []error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := ipc.NewClient(d.socket)
			defer c.Close()
			for i := range each {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				p, err := publishAt(ctx, d, c, "hot", fmt.Sprint(w*1000+i))
				cancel()
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if seen[p.Offset] {
					errs = append(errs, fmt.Errorf("offset %d acknowledged twice", p.Offset))
				}
				seen[p.Offset] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d publishes failed, first: %v", len(errs), workers*each, errs[0])
	}
	for o := uint64(1); o <= workers*each; o++ {
		if !seen[o] {
			t.Fatalf("offset %d never acknowledged", o)
		}
	}
}
