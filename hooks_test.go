package fanoutd

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookLog records what the hooks saw, for a test to read.
type hookLog struct {
	mu    sync.Mutex
	lines []string
	gone  chan struct{}
}

func (h *hookLog) add(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, s)
}

func (h *hookLog) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// TestEmbeddingHooksAndInProcessPublish: an embedding application refuses a
// subscription its token would allow, sees connects and disconnects, and
// publishes in-process with a position and idempotency.
func TestEmbeddingHooksAndInProcessPublish(t *testing.T) {
	h := &hookLog{gone: make(chan struct{})}
	d := runDaemon(t, Options{Config: testConfig(t), Hooks: Hooks{
		AuthorizeSubscribe: func(user, channel string) bool { return !strings.HasPrefix(channel, "vip:") || user == "vic" },
		OnConnect:          func(_, user string) { h.add("connect " + user) },
		OnDisconnect: func(_, user string, code int) {
			h.add("disconnect " + user)
			close(h.gone)
		},
	}})
	w := d.dial(token(t, "ann", "*"))
	w.send(`{"action":"subscribe","channel":"vip:lounge","id":1}`)
	if m := w.next(); m["type"] != "error" || m["code"] != "forbidden" {
		t.Fatalf("subscribe refused by the hook: got %v, want forbidden", m)
	}
	w.subscribe("news")

	ctx := context.Background()
	ev := Event{Channel: "news", Type: "story.created", Payload: json.RawMessage(`{"id":1}`), IdempotencyKey: "k1"}
	p1, err := d.srv.Publish(ctx, ev)
	if err != nil || p1.Offset != 1 || p1.Epoch == "" || p1.Duplicate {
		t.Fatalf("Publish = %+v, %v; want offset 1 in an epoch", p1, err)
	}
	if p2, err := d.srv.Publish(ctx, ev); err != nil || p2.Offset != 1 || !p2.Duplicate {
		t.Fatalf("repeat = %+v, %v; want the first position, duplicate", p2, err)
	}
	if m := w.expectEvent("news", "story.created"); m["epoch"] != p1.Epoch {
		t.Fatalf("event %v, want epoch %s", m, p1.Epoch)
	}
	if _, err := d.srv.Publish(ctx, Event{Channel: "bad channel", Type: "t"}); err == nil {
		t.Fatal("an invalid channel was published")
	}

	_ = w.c.CloseNow()
	select {
	case <-h.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("OnDisconnect not called within 10 s")
	}
	if got := strings.Join(h.all(), ","); got != "connect ann,disconnect ann" {
		t.Fatalf("hooks saw %q", got)
	}
}
