package netpoll

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// BenchmarkBroadcastSockets: one 200-byte frame, encoded once, sent to n
// real loopback connections and written; an op is one event to all n. The
// clients drain in the same process, so ns/delivery includes their reads:
// it is an upper bound of the server's cost. Allocations are the server's
// and the clients' together; the aim is 0 per delivery.
func BenchmarkBroadcastSockets(b *testing.B) {
	benchBroadcast(b, func(c *Conn, frame []byte, _ int64) { c.Send(frame) }, func(b *testing.B, srv *Server, deliveries int) {
		b.ReportMetric(float64(deliveries)/float64(max(srv.Stats().Writes, 1)), "deliveries/write")
	})
}

// BenchmarkBroadcastEventsTimed is BenchmarkBroadcastSockets on the
// core's path: event frames queued with their publish time, flushed, and
// the publish→write latency sampled (Options.LatencySample's default).
// The aim stays 0 allocations per delivery.
func BenchmarkBroadcastEventsTimed(b *testing.B) {
	benchBroadcast(b, func(c *Conn, frame []byte, published int64) {
		if _, first, _ := c.QueueEventAt(frame, 1, PolicyDisconnect, published); first {
			c.Flush()
		}
	}, func(b *testing.B, srv *Server, deliveries int) {
		if deliveries >= 100 && srv.WriteLatency().Count == 0 {
			b.Fatal("no latency sampled")
		}
	})
}

// benchBroadcast sends one 200-byte frame, published at the start of the
// op, to n connections with send and waits until it is written; check
// looks at the server after.
func benchBroadcast(b *testing.B, send func(c *Conn, frame []byte, published int64), check func(b *testing.B, srv *Server, deliveries int)) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			srv, conns := benchConns(b, n)
			frame := TextFrame(bytes.Repeat([]byte("x"), 200))
			want := srv.Stats().BytesOut
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				published := time.Now().UnixNano()
				for _, c := range conns {
					send(c, frame, published)
				}
				want += uint64(n * len(frame))
				waitWritten(b, srv, want)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
			check(b, srv, b.N*n)
		})
	}
}

// benchConns connects n clients that discard what they read.
func benchConns(b *testing.B, n int) (*Server, []*Conn) {
	return benchConnsWith(b, n, Options{})
}

// benchConnsWith is benchConns with o's FlushDelay.
func benchConnsWith(b *testing.B, n int, o Options) (*Server, []*Conn) {
	b.Helper()
	srv, h, addr := startServer(b, Options{PingInterval: time.Hour, MaxConns: n + 10, WriteQueueBytes: 64 << 20, FlushDelay: o.FlushDelay})
	for i := range n {
		c := dialRaw(b, addr)
		c.Write([]byte(upgradeRequest("/ws")))
		c.ReadHead()
		_ = c.NC.SetReadDeadline(time.Time{}) // ReadHead's deadline would end the drain
		go func(nc net.Conn) { _, _ = io.Copy(io.Discard, nc) }(c.NC)
		_ = i
	}
	conns := make([]*Conn, n)
	for i := range n {
		conns[i] = h.session(b, i).c
	}
	return srv, conns
}

// waitWritten spins until the server has written want bytes, failing after
// 30 s without progress instead of hanging.
func waitWritten(b *testing.B, srv *Server, want uint64) {
	last, since := srv.Stats().BytesOut, time.Now()
	for last < want {
		runtime.Gosched()
		if cur := srv.Stats().BytesOut; cur != last {
			last, since = cur, time.Now()
		} else if time.Since(since) > 30*time.Second {
			b.Fatalf("server stalled at %d of %d bytes", cur, want)
		}
	}
}
