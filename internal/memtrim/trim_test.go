package memtrim

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestWorthTrimming(t *testing.T) {
	const mib = 1 << 20
	live := uint64(20 * mib)
	cases := []struct {
		name     string
		allocs   uint64 // since the previous look
		retained uint64
		want     bool
	}{
		{"after a burst, quiet now", mib, 10 * mib, true},
		{"still allocating", 3 * mib, 10 * mib, false},
		{"retains too little for its size", 0, 2 * mib, false},
		{"an eighth of the live heap", 0, 5 * mib / 2, true},
	}
	small := Sample{Live: 4 * mib, Retained: 3 * mib / 4} // an eighth of its heap, under the minimum
	if worthTrimming(Sample{Live: 4 * mib}, small, DefaultMinRelease) {
		t.Error("a small heap trimmed for less than the minimum")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prev := Sample{Allocs: 100 * mib, Live: live}
			s := Sample{Allocs: prev.Allocs + c.allocs, Live: live, Retained: c.retained}
			if got := worthTrimming(prev, s, DefaultMinRelease); got != c.want {
				t.Fatalf("worthTrimming = %v, want %v", got, c.want)
			}
		})
	}
}

// TestTickTrimsOncePerBurst: the first look only records; a quiet look
// after a burst trims; no trim follows within MinGap, nor while the
// process allocates; the first quiet look after both does.
func TestTickTrimsOncePerBurst(t *testing.T) {
	const mib = 1 << 20
	heap := Sample{Allocs: 500 * mib, Live: 20 * mib, Retained: 12 * mib}
	releases := 0
	tr := New(Options{
		Interval: 10 * time.Second,
		MinGap:   30 * time.Second, // two looks pass after a trim
		read:     func() Sample { return heap },
		release:  func() { releases++; heap.Retained = 0 },
	})
	if tr.tick() {
		t.Fatal("the first look trimmed: it has nothing to compare with")
	}
	if !tr.tick() || releases != 1 {
		t.Fatalf("a quiet look retaining 12 MiB did not trim (releases %d)", releases)
	}
	heap.Retained = 12 * mib // garbage again at once
	for i := range 2 {
		heap.Allocs += mib
		if tr.tick() {
			t.Fatalf("look %d after a trim trimmed again, within MinGap", i+1)
		}
	}
	heap.Allocs += 10 * mib // busy: a burst of connects
	if tr.tick() {
		t.Fatal("trimmed while the process allocates")
	}
	if !tr.tick() || releases != 2 {
		t.Fatalf("did not trim once the burst ended (releases %d)", releases)
	}
}

// TestReleaseReturnsGarbage runs the real runtime: garbage made and
// collected is retained, and a trim gives it back.
func TestReleaseReturnsGarbage(t *testing.T) {
	const mib = 1 << 20
	garbage := make([][]byte, 64)
	for i := range garbage {
		garbage[i] = make([]byte, mib)
		garbage[i][0] = 1
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	runtime.GC()
	before := readRuntime()
	if before.Live == 0 || before.Allocs < 64*mib {
		t.Fatalf("runtime figures implausible: %+v", before)
	}
	trimmed := false
	tr := New(Options{MinRelease: 1, release: func() { trimmed = true; runtimeRelease() }})
	tr.tick()
	if !tr.tick() || !trimmed {
		t.Fatalf("no trim with %d bytes retained over %d live", tr.last.Retained, tr.last.Live)
	}
	if after := readRuntime(); after.Retained >= 32*mib {
		t.Fatalf("still %d bytes retained after the trim", after.Retained)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { New(Options{Interval: time.Millisecond}).Run(ctx); close(done) }()
	time.Sleep(5 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
