package fanoutd

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/control"
)

// BenchmarkTapDeliveryLatency is one publish and its arrival at a
// WebSocket subscriber, per op: the publish→delivery latency, without a
// tap, with a tap that reads, and with a tap that has stopped reading
// (its queue full, every line dropped). The three should match: a tap
// never slows delivery.
//
//	go test -run XXX -bench TapDeliveryLatency -benchtime 3000x .
func BenchmarkTapDeliveryLatency(b *testing.B) {
	for _, mode := range []string{"no tap", "reading tap", "stalled tap"} {
		b.Run(mode, func(b *testing.B) {
			d := startDaemonB(b)
			w := d.dial(tokenB(b, "bench", "*"))
			w.subscribe("project:bench")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if mode != "no tap" {
				stalled := mode == "stalled tap"
				go func() {
					_ = control.NewClient(d.socket).Tap(ctx, "project:*", func([]byte) error {
						if stalled {
							<-ctx.Done()
						}
						return nil
					})
				}()
				waitTap(b, d)
			}
			payload := json.RawMessage(`{"status":"done"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := d.srv.Publish(ctx, Event{Channel: "project:bench", Type: "story.status.changed", Payload: payload}); err != nil {
					b.Fatal(err)
				}
				if _, err := w.tryNext(10 * time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func waitTap(b *testing.B, d *testDaemon) {
	b.Helper()
	c := control.NewClient(d.socket)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n struct {
			Taps int `json:"taps"`
		}
		if c.Call(context.Background(), http.MethodGet, "/v1/nodes", nil, &n) == nil && n.Taps > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("the tap did not open")
}
