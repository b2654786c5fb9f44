package netpoll

import (
	"testing"
	"time"
)

// TestWriteLatencyMeasuresFromThePublish: an event stamped as published
// 30 ms before it was queued lands in the 50 ms bucket, not before; a
// frame without a time is not sampled.
func TestWriteLatencyMeasuresFromThePublish(t *testing.T) {
	srv, h, addr := startServer(t, Options{LatencySample: 1})
	c, _ := connect(t, addr)
	conn := h.session(t, 0).c
	conn.Send(TextFrame([]byte("reply")))
	c.ReadFrame()
	// The client can read the reply before the worker that wrote it has
	// emptied the queue's bookkeeping: wait for that, so the event is first.
	for deadline := time.Now().Add(10 * time.Second); conn.QueuedBytes() != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	published := time.Now().Add(-30 * time.Millisecond).UnixNano()
	if ok, first, _ := conn.QueueEventAt(TextFrame([]byte("event")), 7, PolicyDisconnect, published); !ok || !first {
		t.Fatal("not queued")
	}
	conn.Flush()
	c.ReadFrame()
	deadline := time.Now().Add(10 * time.Second)
	for srv.WriteLatency().Count == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	l := srv.WriteLatency()
	if l.Count != 1 {
		t.Fatalf("%d samples, want the event's only", l.Count)
	}
	for i, b := range l.Bounds {
		if want := uint64(0); b < 30*time.Millisecond && l.Cumulative[i] != want {
			t.Fatalf("bucket %v counts %d: the latency is at least 30ms", b, l.Cumulative[i])
		}
	}
	if l.Sum < 30*time.Millisecond {
		t.Fatalf("sum %v, want at least 30ms", l.Sum)
	}
}

func TestLatencyHistBuckets(t *testing.T) {
	var h latencyHist
	for _, d := range []time.Duration{-time.Second, 0, 100 * time.Microsecond, 101 * time.Microsecond, time.Minute} {
		h.observe(d)
	}
	if h.buckets[0].Load() != 3 || h.buckets[1].Load() != 1 || h.buckets[len(latencyBounds)].Load() != 1 {
		t.Fatalf("buckets %v", &h.buckets)
	}
}
