package daemon

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/flate"
)

// countTransport is the cheapest possible Transport, so that benchmarks
// measure the core: Send only counts.
type countTransport struct{ sent atomic.Uint64 }

var _ Transport = (*countTransport)(nil)

func (c *countTransport) Send([]byte) bool { c.sent.Add(1); return true }

// Queue reports every message as the first, so the benchmark pays for the
// flush list as a fan-out of single events does.
func (c *countTransport) Queue([]byte) (bool, bool) { c.sent.Add(1); return true, true }
func (c *countTransport) QueueEventAt(m []byte, _ uint64, _ int, _ int64) (bool, bool, int) {
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

// deflateCount is a countTransport that negotiated compression.
type deflateCount struct{ *countTransport }

func (deflateCount) Deflate() bool { return true }

// flateFrame is a real Options.Compress for the benchmark (the transport's
// Compressor cannot be imported here): pooled writers, level 1, and a new
// slice for the result, as netpoll.Compressor.Frame does. The frame header
// is not rewritten: the cost measured is the deflate and the copy.
func flateFrame() func([]byte) []byte {
	type deflater struct {
		w   *flate.Writer
		buf bytes.Buffer
	}
	pool := sync.Pool{New: func() any {
		d := &deflater{}
		d.w, _ = flate.NewWriter(&d.buf, flate.BestSpeed)
		return d
	}}
	return func(frame []byte) []byte {
		d := pool.Get().(*deflater)
		defer pool.Put(d)
		d.buf.Reset()
		d.w.Reset(&d.buf)
		_, _ = d.w.Write(frame)
		_ = d.w.Flush()
		return bytes.Clone(d.buf.Bytes())
	}
}

// dashPayload is a 2 KB dashboard-like JSON object: repeated keys, small
// numbers and status strings.
var dashPayload = func() []byte {
	var b strings.Builder
	b.WriteString(`{"hosts":[`)
	for i := 0; b.Len() < 2000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"host":"web-%d","cpu":%d.%d,"mem":%d,"status":"ok"}`, i, i%97, i%10, 1000+i*7)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}()

// BenchmarkBroadcastDeflate compares a fan-out where every subscriber
// negotiated compression with the same fan-out uncompressed: compression
// happens once per event, so per delivery the two converge as subscribers
// grow (allocations per delivery: the same).
func BenchmarkBroadcastDeflate(b *testing.B) {
	for _, mode := range []string{"plain", "deflate"} {
		for _, subscribers := range []int{1, 100, 10000} {
			b.Run(fmt.Sprintf("%s/%d", mode, subscribers), func(b *testing.B) {
				o := Options{MaxSubscriptions: 1, CommandsPerSecond: 1 << 30}
				if mode == "deflate" {
					o.Compress = flateFrame()
					o.DefaultChannel.CompressMin = 512
				}
				n := New(o)
				sub := []byte(`{"action":"subscribe","channel":"bench"}`)
				sessions := make([]*Session, subscribers)
				for i := range sessions {
					var t Transport = &countTransport{}
					if mode == "deflate" {
						t = deflateCount{&countTransport{}}
					}
					sessions[i] = n.Connect(t, Identity{Subject: "u", Channels: []string{"*"}})
					sessions[i].Message(false, sub)
				}
				ctx := context.Background()
				before := n.Stats().Delivered
				b.ReportAllocs()
				for b.Loop() {
					if err := n.Publish(ctx, "bench", "tick", dashPayload); err != nil {
						b.Fatal(err)
					}
				}
				deliveries := n.Stats().Delivered - before
				if mode == "deflate" && n.Stats().CompressedEvents != n.Stats().Published {
					b.Fatalf("compressed %d events of %d", n.Stats().CompressedEvents, n.Stats().Published)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(deliveries), "ns/delivery")
				for _, s := range sessions {
					s.Closed(1000)
				}
			})
		}
	}
}
