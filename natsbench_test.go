package fanoutd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/natstest"
	"github.com/fanoutd/fanoutd/ipc"
)

// BenchmarkConcurrentPublishers: 16 publishers, each with its own
// connection to the Unix socket, single events, on one channel and on 16,
// through the memory broker and through NATS in the same run: "nats" with
// nats-server in the test's process (as the fault tests run it), and
// "nats-process" with nats-server as its own process, as it is deployed,
// whose CPU per publish is then reported apart (broker-cpu-µs/publish).
// Reports publishes/s; any failed publish fails the benchmark.
//
//	go test -run '^$' -bench ConcurrentPublishers -benchtime 20000x .
func BenchmarkConcurrentPublishers(b *testing.B) {
	brokers := []struct {
		name  string
		start func(b *testing.B) (func(*config.Config), cpuServer)
	}{
		{"memory", func(*testing.B) (func(*config.Config), cpuServer) { return func(*config.Config) {}, nil }},
		{"nats", func(b *testing.B) (func(*config.Config), cpuServer) { return onNATS(natstest.Start(b)), nil }},
		{"nats-process", func(b *testing.B) (func(*config.Config), cpuServer) {
			p := natstest.StartProcess(b)
			return func(c *config.Config) {
				c.Broker.Type = "nats"
				c.Broker.NATS.URL = p.URL
			}, p
		}},
	}
	for _, br := range brokers {
		for _, channels := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/channels=%d", br.name, channels), func(b *testing.B) {
				mutate, srv := br.start(b)
				d := startDaemonB(b, mutate)
				publishConcurrently(b, d, 16, channels, 16) // warm up: stream, connections
				b.ResetTimer()
				start, cpu := time.Now(), startCPU(b, srv)
				publishConcurrently(b, d, 16, channels, b.N)
				elapsed := time.Since(start)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "publishes/s")
				// CPU of the whole process (daemon, publishers and, for
				// "nats", the in-process server): the machine is shared, so
				// this says more than the rate about what a publish costs.
				self := cpu.report(b, b.N)
				b.ReportMetric(self.Seconds()/elapsed.Seconds(), "cores")
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
