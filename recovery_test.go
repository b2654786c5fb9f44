package fanoutd

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/ipc"
)

// subscribeSince sends subscribe with a position and returns the reply.
func (w *wsClient) subscribeSince(channel string, offset uint64, epoch string) map[string]any {
	w.t.Helper()
	w.send(fmt.Sprintf(`{"action":"subscribe","channel":%q,"since":{"offset":%d,"epoch":%q}}`, channel, offset, epoch))
	m := w.next()
	if m["type"] != "subscribed" {
		w.t.Fatalf("subscribe since: %v", m)
	}
	return m
}

// subscribePosition subscribes and returns the channel's position.
func (w *wsClient) subscribePosition(channel string) (uint64, string) {
	w.t.Helper()
	w.send(`{"action":"subscribe","channel":"` + channel + `"}`)
	m := w.next()
	if m["type"] != "subscribed" {
		w.t.Fatalf("subscribe: %v", m)
	}
	return uint64(m["offset"].(float64)), m["epoch"].(string)
}

func publishMany(t *testing.T, d *testDaemon, channel string, from, to int) {
	t.Helper()
	events := make([]ipc.Event, 0, to-from+1)
	for i := from; i <= to; i++ {
		events = append(events, ipc.Event{Channel: channel, Type: "story.status.changed", Payload: json.RawMessage(fmt.Sprint(i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.pub.PublishBatch(ctx, events); err != nil {
		t.Fatal(err)
	}
}

// TestReconnectWithSinceRecoversExactlyTheMissedEvents: the ADR-004 laptop
// sleeps through 50 status changes; on reconnect it gets exactly those, in
// order, then live ones.
func TestReconnectWithSinceRecoversExactlyTheMissedEvents(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "sam", "project:*")
	w := d.dial(tok)
	_, epoch := w.subscribePosition("project:p1")
	publishMany(t, d, "project:p1", 1, 5)
	var last uint64
	for range 5 {
		last = uint64(w.expectEvent("project:p1", "story.status.changed")["offset"].(float64))
	}
	_ = w.c.CloseNow()

	publishMany(t, d, "project:p1", 6, 55)

	w2 := d.dial(tok)
	r := w2.subscribeSince("project:p1", last, epoch)
	if r["recovered"] != true || r["epoch"] != epoch || r["offset"] != float64(55) {
		t.Fatalf("reply %v, want recovered at offset 55 in epoch %s", r, epoch)
	}
	for want := 6; want <= 55; want++ {
		m := w2.expectEvent("project:p1", "story.status.changed")
		if m["offset"] != float64(want) || m["payload"] != float64(want) {
			t.Fatalf("replayed %v, want offset and payload %d", m, want)
		}
	}
	publishMany(t, d, "project:p1", 56, 56)
	if m := w2.expectEvent("project:p1", "story.status.changed"); m["offset"] != float64(56) {
		t.Fatalf("live event after replay %v, want offset 56", m)
	}
}

// TestRecoveryFailsLoudly: a position older than the history, and any
// position after a restart (the in-memory history is gone, the epoch
// changed), get recovered:false and no replay.
func TestRecoveryFailsLoudly(t *testing.T) {
	small := func(c *config.Config) { c.History.Size = 10 }
	d := startDaemon(t, small)
	tok := token(t, "sam", "*")
	w := d.dial(tok)
	_, epoch := w.subscribePosition("c")
	publishMany(t, d, "c", 1, 30)
	w2 := d.dial(tok)
	if r := w2.subscribeSince("c", 5, epoch); r["recovered"] != false {
		t.Fatalf("position older than the history: %v, want recovered:false", r)
	}
	publishMany(t, d, "c", 31, 31)
	if m := w2.expectEvent("c", "story.status.changed"); m["offset"] != float64(31) {
		t.Fatalf("first event after recovered:false %v, want the live one (31), no partial replay", m)
	}

	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	d2 := startDaemon(t, small)
	w3 := d2.dial(tok)
	r := w3.subscribeSince("c", 31, epoch)
	if r["recovered"] != false || r["epoch"] == epoch {
		t.Fatalf("after a restart: %v, want recovered:false in a new epoch", r)
	}
}

// TestIdempotentPublishOverTheSocket: a publisher that retries three times
// after (pretend) timeouts publishes one event at one offset.
func TestIdempotentPublishOverTheSocket(t *testing.T) {
	d := startDaemon(t)
	w := d.dial(token(t, "sam", "*"))
	w.subscribe("orders")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev := []ipc.Event{{Channel: "orders", Type: "order.created", Payload: json.RawMessage(`{"id":7}`), IdempotencyKey: "order-7"}}
	var first ipc.Position
	for try := range 4 {
		pos, err := d.pub.PublishEvents(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if try == 0 {
			first = pos[0]
			continue
		}
		if pos[0].Offset != first.Offset || pos[0].Epoch != first.Epoch || !pos[0].Duplicate {
			t.Fatalf("retry %d: %+v, want the first position %+v marked duplicate", try, pos[0], first)
		}
	}
	w.expectEvent("orders", "order.created")
	if m, err := w.tryNext(300 * time.Millisecond); err == nil {
		t.Fatalf("a retry was delivered again: %v", m)
	}
	if st := d.srv.Stats(); st.Published != 1 || st.Duplicates != 3 {
		t.Fatalf("stats published %d duplicates %d, want 1 and 3", st.Published, st.Duplicates)
	}
}
