package redisbroker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestParseMessage(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []daemon.BrokerEvent
		ok   bool
	}{
		{"one", "7\nep\nt\n{\"a\":1}", []daemon.BrokerEvent{{Offset: 7, Epoch: "ep", Type: "t", Payload: []byte(`{"a":1}`)}}, true},
		{"one without payload", "7\nep\nt\n", []daemon.BrokerEvent{{Offset: 7, Epoch: "ep", Type: "t"}}, true},
		{"one with newlines", "7\nep\nt\na\nb", []daemon.BrokerEvent{{Offset: 7, Epoch: "ep", Type: "t", Payload: []byte("a\nb")}}, true},
		{"several", "*ep\n3\nt\n3\na\nb4\nu\n0\n6\nt\n1\n9", []daemon.BrokerEvent{
			{Offset: 3, Epoch: "ep", Type: "t", Payload: []byte("a\nb")},
			{Offset: 4, Epoch: "ep", Type: "u"},
			{Offset: 6, Epoch: "ep", Type: "t", Payload: []byte("9")},
		}, true},
		{"several, the last cut short", "*ep\n3\nt\n1\na4\nt\n5\nab", []daemon.BrokerEvent{
			{Offset: 3, Epoch: "ep", Type: "t", Payload: []byte("a")},
		}, false},
		{"several, none", "*ep\n", nil, false},
		{"bad offset", "x\nep\nt\n", nil, false},
		{"too short", "7\nep", nil, false},
		{"bad length", "*ep\n3\nt\nz\na", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []daemon.BrokerEvent
			ok := parseMessage(c.in, func(ev daemon.BrokerEvent) { got = append(got, ev) })
			if ok != c.ok || fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("parseMessage(%q) = %v %v, want %v %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []daemon.BrokerEvent
}

func (r *recorder) Deliver(_ string, ev daemon.BrokerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) Resync() {}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// TestOneMessagePerChannelPerCall: the events of one script call go out as
// one pub/sub message per channel, and a node receiving it delivers each
// event once, in order, at the position its publisher was answered, with
// its payload intact (newlines included).
func TestOneMessagePerChannelPerCall(t *testing.T) {
	r := redistest.Start(t)
	rec := &recorder{}
	b, err := New(Options{Addr: r.Addr})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(rec)
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := b.Subscribe(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer raw.Close()
	watch := raw.Subscribe(ctx, b.key("c", "a"), b.key("c", "b"))
	defer watch.Close()
	if _, err := watch.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	const n = 5
	var reqs []*pubReq
	for i := range n {
		for _, ch := range []string{"a", "b"} {
			reqs = append(reqs, &pubReq{channel: ch, typ: "t", payload: fmt.Appendf(nil, "%s\n%d", ch, i), done: make(chan pubResult, 1)})
		}
	}
	b.sendBatch(ctx, reqs) // one script call: both channels, interleaved
	answered := map[uint64]string{}
	for _, req := range reqs {
		res := <-req.done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if req.channel == "a" {
			answered[res.offset] = string(req.payload)
		}
	}
	for _, ch := range []string{"a", "b"} {
		m, err := watch.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Channel != b.key("c", ch) || !strings.HasPrefix(m.Payload, "*") {
			t.Fatalf("message %d on %s: %q, want one message of several events on %s", len(ch), m.Channel, m.Payload, ch)
		}
	}
	for rec.count() < n && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != n {
		t.Fatalf("delivered %d events of channel a, want %d", len(rec.events), n)
	}
	for i, ev := range rec.events {
		if ev.Offset != uint64(i+1) || string(ev.Payload) != answered[ev.Offset] {
			t.Fatalf("delivery %d: offset %d payload %q, want offset %d payload %q", i, ev.Offset, ev.Payload, i+1, answered[uint64(i+1)])
		}
	}
}

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
