package fanoutd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/fanoutd/fanoutd/ipc"
)

// BenchmarkPublishThroughput: 16 concurrent publishers, each with its own
// connection to the Unix socket, send single events (one per request) to
// one channel or spread over 16, with a WebSocket subscriber on each
// channel; per broker, so the rates compare in one run. Any failed publish
// fails the benchmark: under load a spurious 503 is a bug.
//
//	go test -run '^$' -bench PublishThroughput -benchtime 5s .
func BenchmarkPublishThroughput(b *testing.B) {
	brokers := []struct {
		name   string
		mutate func(testing.TB) func(*config.Config)
	}{
		{"memory", func(testing.TB) func(*config.Config) { return func(*config.Config) {} }},
		{"redis", func(tb testing.TB) func(*config.Config) { return onRedis(redistest.Start(tb)) }},
	}
	for _, br := range brokers {
		for _, channels := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/channels=%d", br.name, channels), func(b *testing.B) {
				benchPublishers(b, br.mutate(b), channels)
			})
		}
	}
}

const benchPublishersN = 16

func benchPublishers(b *testing.B, mutate func(*config.Config), channels int) {
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
	if n := failed.Load(); n > 0 {
		var apiErr *ipc.APIError
		err := *firstErr.Load()
		errors.As(err, &apiErr)
		b.Fatalf("%d of %d publishes failed, first: %v", n, b.N, err)
	}
}
