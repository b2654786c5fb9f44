package loadgen

import (
	"math/bits"
	"sync/atomic"
)

// Histogram counts latencies in microseconds in log-linear buckets: exact
// below 128 µs, then 64 buckets per power of two (under 1.6% error), up to
// ~2^36 µs (19 hours); larger values land in the last bucket. It is
// HdrHistogram's layout with 2 significant digits, written here because it
// is ~60 lines, needs no module, and its serialised form (sparse bucket
// counts) is trivially mergeable across worker processes.
//
// Record is safe from any number of goroutines (atomic adds, no lock);
// Snapshot may run concurrently with it and sees each count at some point.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64
	sum    atomic.Int64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // 128 exact values
	histHalf    = histSub / 2      // buckets per power of two above them
	histMaxExp  = 30
	histBuckets = histSub + histMaxExp*histHalf
)

// bucketOf maps a value to its bucket index.
func bucketOf(v int64) int {
	if v < histSub {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - histSubBits // >= 1
	if e > histMaxExp {
		return histBuckets - 1
	}
	return histSub + (e-1)*histHalf + int(v>>e) - histHalf
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := (i-histSub)/histHalf + 1
	sub := int64((i-histSub)%histHalf + histHalf)
	return (sub+1)<<e - 1
}

// Record adds one latency in microseconds; negative values count as 0.
func (h *Histogram) Record(us int64) {
	us = max(us, 0)
	h.counts[bucketOf(us)].Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// Snapshot is a histogram in transit: sparse [bucket, count] pairs, the
// exact maximum and the sum, in microseconds. Snapshots merge by addition.
type Snapshot struct {
	Buckets [][2]uint64 `json:"buckets"`
	Max     int64       `json:"max_us"`
	Sum     int64       `json:"sum_us"`
}

// Snapshot copies the current counts.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Max: h.max.Load(), Sum: h.sum.Load()}
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), n})
		}
	}
	return s
}

// Merge adds s into h. Buckets out of range (a snapshot from a different
// layout) go to the last bucket rather than being lost.
func (h *Histogram) Merge(s Snapshot) {
	for _, b := range s.Buckets {
		h.counts[min(b[0], histBuckets-1)].Add(b[1])
	}
	h.sum.Add(s.Sum)
	for {
		m := h.max.Load()
		if s.Max <= m || h.max.CompareAndSwap(m, s.Max) {
			return
		}
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Quantile is the value at quantile q (0 < q <= 1) in microseconds: the
// upper edge of the bucket holding the ceil(q×count)-th value, capped at
// the exact maximum. It is 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) int64 {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	if float64(rank) < q*float64(total) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(bucketHigh(i), h.max.Load())
		}
	}
	return h.max.Load()
}

// Max is the largest recorded value in microseconds.
func (h *Histogram) Max() int64 { return h.max.Load() }

// Mean is the average in microseconds.
func (h *Histogram) Mean() float64 {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}
