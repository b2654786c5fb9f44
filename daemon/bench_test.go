package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// countTransport is the cheapest possible Transport, so that benchmarks
// measure the core: Send only counts.
type countTransport struct{ sent atomic.Uint64 }

var _ Transport = (*countTransport)(nil)

func (c *countTransport) Send([]byte) bool { c.sent.Add(1); return true }

// Queue reports every message as the first, so the benchmark pays for the
// flush list as a fan-out of single events does.
func (c *countTransport) Queue([]byte) (bool, bool) { c.sent.Add(1); return true, true }
func (c *countTransport) QueueEvent(m []byte, _ uint64, _ int) (bool, bool, int) {
	ok, first := c.Queue(m)
	return ok, first, 0
}
func (c *countTransport) Flush()            {}
func (c *countTransport) Close(int, string) {}

// benchPayload is a 200-byte JSON payload.
var benchPayload = []byte(`{"data":"` + strings.Repeat("x", 200-len(`{"data":""}`)) + `"}`)

func BenchmarkBroadcast(b *testing.B) {
	if len(benchPayload) != 200 {
		b.Fatalf("payload is %d bytes, want 200", len(benchPayload))
	}
	for _, subscribers := range []int{1, 100, 10000} {
		b.Run(fmt.Sprint(subscribers), func(b *testing.B) {
			n := New(Options{MaxSubscriptions: 1, CommandsPerSecond: 1 << 30})
			ts := make([]*countTransport, subscribers)
			sessions := make([]*Session, subscribers)
			sub := []byte(`{"action":"subscribe","channel":"bench"}`)
			for i := range ts {
				ts[i] = &countTransport{}
				sessions[i] = n.Connect(ts[i], Identity{Subject: "u", Channels: []string{"*"}})
				sessions[i].Message(false, sub)
			}
			if got := n.Stats().Subscriptions; got != int64(subscribers) {
				b.Fatalf("%d subscriptions, want %d", got, subscribers)
			}
			ctx := context.Background()
			before := n.Stats().Delivered

			b.ReportAllocs()
			for b.Loop() {
				if err := n.Publish(ctx, "bench", "tick", benchPayload); err != nil {
					b.Fatal(err)
				}
			}

			deliveries := n.Stats().Delivered - before
			if want := uint64(b.N) * uint64(subscribers); deliveries != want {
				b.Fatalf("%d deliveries, want %d", deliveries, want)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(deliveries), "ns/delivery")
			b.ReportMetric(float64(deliveries)/b.Elapsed().Seconds(), "deliveries/s")
			for _, s := range sessions {
				s.Closed(1000)
			}
		})
	}
}

func BenchmarkSubscribe(b *testing.B) {
	n := New(Options{CommandsPerSecond: 1 << 30})
	ct := &countTransport{}
	s := n.Connect(ct, Identity{Subject: "u", Channels: []string{"project:*"}})
	defer s.Closed(1000)
	// Another subscriber keeps the channel alive, as it is on a busy node;
	// "fresh" measures creating and dropping the channel as well.
	other := n.Connect(&countTransport{}, Identity{Subject: "o", Channels: []string{"*"}})
	defer other.Closed(1000)
	other.Message(false, []byte(`{"action":"subscribe","channel":"project:busy"}`))

	for _, bc := range []struct{ name, channel string }{
		{"existing", "project:busy"},
		{"fresh", "project:fresh"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sub := []byte(`{"action":"subscribe","channel":"` + bc.channel + `","id":1}`)
			unsub := []byte(`{"action":"unsubscribe","channel":"` + bc.channel + `","id":2}`)
			before := ct.sent.Load()
			b.ReportAllocs()
			for b.Loop() {
				s.Message(false, sub)
				s.Message(false, unsub)
			}
			if got, want := ct.sent.Load()-before, 2*uint64(b.N); got != want {
				b.Fatalf("%d replies, want %d", got, want)
			}
			if got := n.Stats().Subscriptions; got != 1 {
				b.Fatalf("%d subscriptions left, want 1", got)
			}
		})
	}
}

func BenchmarkDecodeCommand(b *testing.B) {
	for _, name := range []string{"subscribe", "projectId", "ping", "extra fields", "truncated"} {
		b.Run(name, func(b *testing.B) {
			msg := clientMessage(name)
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				_, _ = decodeCommand(msg)
			}
		})
	}
}
