package netpoll

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the publish→write latency
// histogram's buckets: from a tenth of a millisecond (an idle daemon) to
// ten seconds (a client that barely reads).
var latencyBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// latencyHist counts sampled latencies without a lock: a worker adds to
// one bucket, the count and the sum; a reader may see them a few updates
// apart, which a scrape tolerates.
type latencyHist struct {
	buckets [len(latencyBounds) + 1]atomic.Uint64 // the last is +Inf
	count   atomic.Uint64
	sumNano atomic.Int64
}

func (h *latencyHist) observe(d time.Duration) {
	d = max(d, 0) // a clock step backwards is not a negative latency
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.count.Add(1)
	h.sumNano.Add(int64(d))
}

// Latency is a snapshot of the publish→write latency histogram: the time
// from an event's publish (QueueEventAt's published) to the writev that
// handed its frame to the kernel, for one write in Options.LatencySample
// that carried event frames, measured on the oldest of them.
type Latency struct {
	// Bounds are the buckets' upper bounds, in increasing order.
	Bounds []time.Duration
	// Cumulative[i] counts the samples at most Bounds[i]; Count all.
	Cumulative []uint64
	Count      uint64
	Sum        time.Duration
}

// WriteLatency returns the publish→write latency histogram.
func (s *Server) WriteLatency() Latency {
	h := &s.latency
	l := Latency{Bounds: latencyBounds[:], Cumulative: make([]uint64, len(latencyBounds))}
	var sum uint64
	for i := range latencyBounds {
		sum += h.buckets[i].Load()
		l.Cumulative[i] = sum
	}
	l.Count = sum + h.buckets[len(latencyBounds)].Load()
	l.Sum = time.Duration(h.sumNano.Load())
	return l
}

// sampleLatency records the latency of a write that carried event frames,
// the oldest published at oldest (Unix nanoseconds), one write in
// Options.LatencySample. Only then is the clock read: a write costs no
// clock reading otherwise.
func (w *worker) sampleLatency(oldest int64) {
	w.stamped++
	if w.stamped%uint64(w.s.opts.LatencySample) != 0 {
		return
	}
	w.s.latency.observe(time.Duration(w.s.opts.Now().UnixNano() - oldest))
}
