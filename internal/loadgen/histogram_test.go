package loadgen

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestBucketsAreContiguousAndTight(t *testing.T) {
	for i := 1; i < histBuckets; i++ {
		lo := bucketHigh(i-1) + 1
		if bucketOf(lo) != i || bucketOf(bucketHigh(i)) != i {
			t.Fatalf("bucket %d: [%d, %d] does not map back", i, lo, bucketHigh(i))
		}
		if err := float64(bucketHigh(i)-lo) / float64(lo); err > 1.0/64 {
			t.Fatalf("bucket %d is %.2f%% wide", i, err*100)
		}
	}
	if bucketOf(-5) != 0 || bucketOf(1<<62) != histBuckets-1 {
		t.Fatal("out-of-range values must clamp")
	}
}

func TestQuantilesWithinOnePercent(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]int64, 100000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64() * 2000) // µs, a latency-like tail
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)-1))]
		got := h.Quantile(q)
		if d := float64(got-exact) / float64(max(exact, 1)); d < -0.02 || d > 0.02 {
			t.Errorf("q%.3f = %d, exact %d (%.1f%% off)", q, got, exact, d*100)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Count() != uint64(len(vals)) {
		t.Errorf("max %d count %d", h.Max(), h.Count())
	}
}

// TestMergeOfSnapshotsEqualsOneHistogram is the multi-process path: each
// worker's histogram travels as JSON and the parent adds them up.
func TestMergeOfSnapshotsEqualsOneHistogram(t *testing.T) {
	var all, merged Histogram
	parts := make([]Histogram, 3)
	for i := range 30000 {
		v := int64(i*37%50000 + i%7)
		all.Record(v)
		parts[i%3].Record(v)
	}
	for i := range parts {
		b, err := json.Marshal(parts[i].Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		var s Snapshot
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		merged.Merge(s)
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %d, single %d", q, merged.Quantile(q), all.Quantile(q))
		}
	}
	if merged.Max() != all.Max() || merged.Count() != all.Count() || merged.Mean() != all.Mean() {
		t.Errorf("merged max/count/mean %d/%d/%f, single %d/%d/%f",
			merged.Max(), merged.Count(), merged.Mean(), all.Max(), all.Count(), all.Mean())
	}
}

func TestEmptyHistogram(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || len(h.Snapshot().Buckets) != 0 {
		t.Fatal("empty histogram must report zeros")
	}
}

func TestConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(int64(g*1000 + i))
			}
		})
	}
	wg.Wait()
	if h.Count() != 8000 || h.Max() != 7999 {
		t.Fatalf("count %d max %d", h.Count(), h.Max())
	}
}
