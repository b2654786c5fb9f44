package fanoutd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/cputime"
	"github.com/fanoutd/fanoutd/internal/natstest"
	"github.com/fanoutd/fanoutd/ipc"
)

// BenchmarkConcurrentPublishers: 16 publishers, each with its own
// connection to the Unix socket, single events, on one channel and on 16,
// through the memory broker and through NATS (in-process nats-server,
// file store) in the same run. Reports publishes/s; any failed publish
// fails the benchmark.
//
//	go test -run '^$' -bench ConcurrentPublishers -benchtime 20000x .
func BenchmarkConcurrentPublishers(b *testing.B) {
	brokers := []struct {
		name   string
		mutate func(b *testing.B) func(*config.Config)
	}{
		{"memory", func(*testing.B) func(*config.Config) { return func(*config.Config) {} }},
		{"nats", func(b *testing.B) func(*config.Config) { return onNATS(natstest.Start(b)) }},
	}
	for _, br := range brokers {
		for _, channels := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/channels=%d", br.name, channels), func(b *testing.B) {
				d := startDaemonB(b, br.mutate(b))
				publishConcurrently(b, d, 16, channels, 16) // warm up: stream, connections
				b.ResetTimer()
				start, cpu0 := time.Now(), cputime.Self()
				publishConcurrently(b, d, 16, channels, b.N)
				elapsed, cpu := time.Since(start), cputime.Self()-cpu0
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "publishes/s")
				// CPU of the whole process (daemon, publishers and, for
				// NATS, the in-process server): the machine is shared, so
				// this says more than the rate about what a publish costs.
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/publish")
				b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
			})
		}
	}
}

// publishConcurrently sends total single-event publishes from workers
// goroutines, round-robin over channels.
func publishConcurrently(b *testing.B, d *testDaemon, workers, channels, total int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	for w := range workers {
		wg.Go(func() {
			c := ipc.NewClient(d.socket)
			defer c.Close()
			for i := w; i < total; i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := c.Publish(ctx, fmt.Sprintf("bench:%d", i%channels), "t", json.RawMessage(`{"n":1}`))
				cancel()
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		b.Fatalf("%d publishes failed, first: %v", len(failed), failed[0])
	}
}
