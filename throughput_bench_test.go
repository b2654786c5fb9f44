package fanoutd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/cputime"
	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/fanoutd/fanoutd/ipc"
)

// BenchmarkPublishThroughput: 16 concurrent publishers, each with its own
// connection to the Unix socket, send single events (one per request) to
// one channel or spread over 16, with a WebSocket subscriber on each
// channel; per broker, so the rates compare in one run. Any failed publish
// fails the benchmark: under load a spurious 503 is a bug.
//
// Besides the rate it reports CPU per publish: the test process's (the
// daemon and its publishers) and, through Redis, redis-server's. The
// machine's cores are shared by all of them, so the rate alone does not
// say what the daemon spends.
//
//	go test -run '^$' -bench PublishThroughput -benchtime 5s .
func BenchmarkPublishThroughput(b *testing.B) {
	brokers := []struct {
		name  string
		start func(testing.TB) (func(*config.Config), func() time.Duration)
	}{
		{"memory", func(testing.TB) (func(*config.Config), func() time.Duration) {
			return func(*config.Config) {}, nil
		}},
		{"redis", func(tb testing.TB) (func(*config.Config), func() time.Duration) {
			r := redistest.Start(tb)
			return onRedis(r), func() time.Duration {
				cpu, err := r.CPU()
				if err != nil {
					tb.Fatal(err)
				}
				return cpu
			}
		}},
	}
	for _, br := range brokers {
		for _, channels := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/channels=%d", br.name, channels), func(b *testing.B) {
				mutate, brokerCPU := br.start(b)
				benchPublishers(b, mutate, brokerCPU, channels)
			})
		}
	}
}

const benchPublishersN = 16

func benchPublishers(b *testing.B, mutate func(*config.Config), brokerCPU func() time.Duration, channels int) {
	d := startDaemonB(b, mutate)
	bodies := make([][]byte, channels)
	for i := range channels {
		w := d.dial(tokenB(b, "u", "*"))
		w.subscribe(fmt.Sprint("tp:", i))
		go func() { // discard: the subscriber only makes the fan-out real
			for {
				if _, _, err := w.c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		bodies[i] = fmt.Appendf(nil, `{"channel":"tp:%d","type":"t","payload":{"n":1}}`, i)
	}
	var next, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	b.SetParallelism((benchPublishersN + 1) / 2) // × GOMAXPROCS (2 here)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, broker0 := cputime.Self(), time.Duration(0)
	if brokerCPU != nil {
		broker0 = brokerCPU()
	}
	b.RunParallel(func(pb *testing.PB) {
		c := ipc.NewClient(d.socket)
		defer c.Close()
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.PublishRaw(ctx, bodies[next.Add(1)%int64(channels)])
			cancel()
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, &err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
	b.ReportMetric(float64((cputime.Self()-cpu0).Microseconds())/float64(b.N), "cpu-µs/publish")
	if brokerCPU != nil {
		b.ReportMetric(float64((brokerCPU()-broker0).Microseconds())/float64(b.N), "broker-cpu-µs/publish")
	}
	if n := failed.Load(); n > 0 {
		var apiErr *ipc.APIError
		err := *firstErr.Load()
		errors.As(err, &apiErr)
		b.Fatalf("%d of %d publishes failed, first: %v", n, b.N, err)
	}
}
