package redisbroker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestHistoryNeverLongerThanItsSize: the stream is trimmed with MAXLEN ~
// and keeps more than the history size, but History replays at most the
// size, as if trimmed exactly.
func TestHistoryNeverLongerThanItsSize(t *testing.T) {
	r := redistest.Start(t)
	const size = 10
	b, err := New(Options{Addr: r.Addr, History: func(string) (int, time.Duration) { return size, 0 }})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(nopHandler{})
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var epoch string
	const total = 150
	for i := range total {
		_, e, _, err := b.Publish(ctx, "h", "t", fmt.Appendf(nil, "%d", i+1), "")
		if err != nil {
			t.Fatal(err)
		}
		epoch = e
	}
	raw := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer raw.Close()
	if n := raw.XLen(ctx, b.key("s", "h")).Val(); n <= size {
		t.Fatalf("stream holds %d entries: the test needs one trimmed approximately (> %d)", n, size)
	}
	if events, ok, err := b.History(ctx, "h", total-size-1, epoch); err != nil || ok || len(events) != 0 {
		t.Fatalf("history of %d events: %d events, complete %v, %v; want none, incomplete", size+1, len(events), ok, err)
	}
	events, ok, err := b.History(ctx, "h", total-size, epoch)
	if err != nil || !ok || len(events) != size {
		t.Fatalf("history of %d events: %d events, complete %v, %v", size, len(events), ok, err)
	}
	for i, ev := range events {
		if want := fmt.Sprint(total - size + i + 1); string(ev.Payload) != want || ev.Offset != uint64(total-size+i+1) {
			t.Fatalf("event %d: offset %d %q, want %s", i, ev.Offset, ev.Payload, want)
		}
	}
}
