package natsbroker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/cputime"
	"github.com/fanoutd/fanoutd/internal/natstest"
)

// BenchmarkPublishers: 16 goroutines publishing single events straight
// into one Broker (no HTTP), on one channel and on 16 (one per
// goroutine), against an in-process nats-server: the broker's own share of
// the cost of BenchmarkConcurrentPublishers at the repository's root.
//
//	go test -run '^$' -bench Publishers -benchtime 20000x ./daemon/natsbroker
func BenchmarkPublishers(b *testing.B) {
	for _, channels := range []int{1, 16} {
		b.Run(fmt.Sprintf("channels=%d", channels), func(b *testing.B) {
			srv := natstest.Start(b)
			br, err := New(Options{URL: srv.URL})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = br.Close() }()
			publishAll(b, br, channels, 64) // warm up: the stream, the queues
			b.ResetTimer()
			start, cpu0 := time.Now(), cputime.Self()
			publishAll(b, br, channels, b.N)
			elapsed, cpu := time.Since(start), cputime.Self()-cpu0
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "publishes/s")
			// The whole process, nats-server included: on a shared
			// machine the rate moves with the load, this much less.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/publish")
		})
	}
}

func publishAll(b *testing.B, br *Broker, channels, total int) {
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, _, _, err := br.Publish(ctx, fmt.Sprintf("bench:%d", i%channels), "t", []byte(`{"n":1}`), "")
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
