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
		start func(testing.TB) (func(*config.Config), cpuServer)
	}{
		{"memory", func(testing.TB) (func(*config.Config), cpuServer) { return func(*config.Config) {}, nil }},
		{"redis", func(tb testing.TB) (func(*config.Config), cpuServer) {
			r := redistest.Start(tb)
			return onRedis(r), r
		}},
	}
	for _, br := range brokers {
		for _, channels := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/channels=%d", br.name, channels), func(b *testing.B) {
				mutate, srv := br.start(b)
				benchPublishers(b, mutate, srv, channels)
			})
		}
	}
}

// cpuServer is a broker server run as its own process, whose CPU time a
// benchmark reads (redistest.Server, natstest.Process).
type cpuServer interface{ CPU() (time.Duration, error) }

// cpuMeter measures, over a benchmark's timed part, the CPU of the test
// process and of a broker server (none when srv is nil).
type cpuMeter struct {
	srv          cpuServer
	self, broker time.Duration
}

// startCPU starts measuring.
func startCPU(b *testing.B, srv cpuServer) cpuMeter {
	m := cpuMeter{srv: srv, self: cputime.Self()}
	m.broker = m.brokerCPU(b)
	return m
}

// report reports the CPU per publish of n publishes since startCPU, the
// test process's (cpu-µs/publish) and the broker server's
// (broker-cpu-µs/publish), and returns the test process's.
func (m cpuMeter) report(b *testing.B, n int) time.Duration {
	self := cputime.Self() - m.self
	b.ReportMetric(float64(self.Microseconds())/float64(n), "cpu-µs/publish")
	if m.srv != nil {
		b.ReportMetric(float64((m.brokerCPU(b)-m.broker).Microseconds())/float64(n), "broker-cpu-µs/publish")
	}
	return self
}

func (m cpuMeter) brokerCPU(b *testing.B) time.Duration {
	if m.srv == nil {
		return 0
	}
	cpu, err := m.srv.CPU()
	if err != nil {
		b.Fatal(err)
	}
	return cpu
}

const benchPublishersN = 16

func benchPublishers(b *testing.B, mutate func(*config.Config), srv cpuServer, channels int) {
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
	cpu := startCPU(b, srv)
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
	cpu.report(b, b.N)
	if n := failed.Load(); n > 0 {
		var apiErr *ipc.APIError
		err := *firstErr.Load()
		errors.As(err, &apiErr)
		b.Fatalf("%d of %d publishes failed, first: %v", n, b.N, err)
	}
}
