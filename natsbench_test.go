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
		start func(b *testing.B) (func(*config.Config), func() time.Duration)
	}{
		{"memory", func(*testing.B) (func(*config.Config), func() time.Duration) { return func(*config.Config) {}, nil }},
		{"nats", func(b *testing.B) (func(*config.Config), func() time.Duration) { return onNATS(natstest.Start(b)), nil }},
		{"nats-process", func(b *testing.B) (func(*config.Config), func() time.Duration) {
			p := natstest.StartProcess(b)
			return func(c *config.Config) {
					c.Broker.Type = "nats"
					c.Broker.NATS.URL = p.URL
				}, func() time.Duration {
					cpu, err := p.CPU()
					if err != nil {
						b.Fatal(err)
					}
					return cpu
				}
		}},
	}
	for _, br := range brokers {
		for _, channels := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/channels=%d", br.name, channels), func(b *testing.B) {
				mutate, brokerCPU := br.start(b)
				d := startDaemonB(b, mutate)
				publishConcurrently(b, d, 16, channels, 16) // warm up: stream, connections
				b.ResetTimer()
				start, cpu0, broker0 := time.Now(), cputime.Self(), time.Duration(0)
				if brokerCPU != nil {
					broker0 = brokerCPU()
				}
				publishConcurrently(b, d, 16, channels, b.N)
				elapsed, cpu := time.Since(start), cputime.Self()-cpu0
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "publishes/s")
				// CPU of the whole process (daemon, publishers and, for
				// "nats", the in-process server): the machine is shared, so
				// this says more than the rate about what a publish costs.
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/publish")
				b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
				if brokerCPU != nil {
					b.ReportMetric(float64((brokerCPU()-broker0).Microseconds())/float64(b.N), "broker-cpu-µs/publish")
				}
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
