package netpoll

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/cputime"
)

// BenchmarkFlushDelaySockets publishes one event to 200 loopback
// connections every 1 ms (1,000 publishes/s, the publisher not waiting for
// the writes) and reports the writes each delivery took and the process's
// CPU per delivery (server and in-process clients together: compare the
// rows, not with the daemon figures). With FlushDelay 0 a worker that
// keeps up writes every event alone; with a delay the busy connections are
// written once per delay.
func BenchmarkFlushDelaySockets(b *testing.B) {
	const n, every = 200, time.Millisecond
	for _, d := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		b.Run(fmt.Sprint("delay=", d), func(b *testing.B) {
			srv, conns := benchConnsWith(b, n, Options{FlushDelay: d})
			frame := TextFrame(bytes.Repeat([]byte("x"), 200))
			want, writes := srv.Stats().BytesOut, srv.Stats().Writes
			cpu0 := int64(cputime.Self())
			b.ReportAllocs()
			b.ResetTimer()
			next := time.Now()
			for range b.N {
				published := time.Now().UnixNano()
				for _, c := range conns {
					if _, first, _ := c.QueueEventAt(frame, 1, PolicyDisconnect, published); first {
						c.Flush()
					}
				}
				want += uint64(n * len(frame))
				next = next.Add(every)
				time.Sleep(time.Until(next))
			}
			waitWritten(b, srv, want)
			b.StopTimer()
			deliveries := float64(b.N * n)
			b.ReportMetric(deliveries/float64(max(srv.Stats().Writes-writes, 1)), "deliveries/write")
			b.ReportMetric(float64(int64(cputime.Self())-cpu0)/deliveries, "cpu-ns/delivery")
		})
	}
}
