package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"go.uber.org/zap"
)

// Defaults for the zero Options.
const (
	DefaultInterval   = 10 * time.Second
	DefaultMinRelease = 1 << 20
	DefaultMinGap     = 5 * time.Minute
)

// Options configures a Trimmer. The zero value is usable.
type Options struct {
	// Interval is how often the heap is looked at; 0 means
	// DefaultInterval.
	Interval time.Duration
	// MinRelease is the fewest retained bytes worth a trim; 0 means
	// DefaultMinRelease. A trim also needs an eighth of the live heap
	// retained, so a large heap is not collected for a few pages.
	MinRelease uint64
	// MinGap is the least time between two trims; 0 means DefaultMinGap.
	// A process that allocates just under the quiet threshold would
	// otherwise be collected every few looks; with the gap a trim costs a
	// large heap at most one extra collection per MinGap.
	MinGap time.Duration
	// Logger receives one debug line per trim; nil means none.
	Logger *zap.Logger

	read    func() Sample // the runtime's figures; tests replace it
	release func()        // runtimeRelease; tests replace it
}

// Sample is what a look at the heap reads.
type Sample struct {
	Allocs   uint64 // heap bytes allocated since the process started
	Live     uint64 // the live heap, as the last collection marked it
	Retained uint64 // heap bytes held beyond Live: uncollected garbage and free pages not yet returned
}

// Trimmer decides, once per Interval, whether to return memory. Run it on
// one goroutine.
type Trimmer struct {
	o    Options
	last Sample
	seen bool
	wait int // looks still to pass before the next trim (MinGap)
}

// New returns a Trimmer with o's defaults applied.
func New(o Options) *Trimmer {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MinRelease == 0 {
		o.MinRelease = DefaultMinRelease
	}
	if o.MinGap <= 0 {
		o.MinGap = DefaultMinGap
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.read == nil {
		o.read = readRuntime
	}
	if o.release == nil {
		o.release = runtimeRelease
	}
	return &Trimmer{o: o}
}

// Run looks at the heap every Interval until ctx is done.
func (t *Trimmer) Run(ctx context.Context) {
	tk := time.NewTicker(t.o.Interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			t.tick()
		}
	}
}

// tick reads the heap and trims when the process is quiet and retains
// enough. It reports whether it trimmed.
func (t *Trimmer) tick() bool {
	s := t.o.read()
	prev, seen := t.last, t.seen
	t.last, t.seen = s, true
	if t.wait > 0 {
		t.wait--
		return false
	}
	if !seen || !worthTrimming(prev, s, t.o.MinRelease) {
		return false
	}
	start := time.Now()
	t.o.release()
	after := t.o.read()
	t.last = after // the forced collection's own allocations are not load
	t.wait = int((t.o.MinGap - 1) / t.o.Interval)
	t.o.Logger.Debug("returned idle heap to the system",
		zap.Uint64("retained_before", s.Retained), zap.Uint64("retained_after", after.Retained),
		zap.Uint64("live", after.Live), zap.Duration("took", time.Since(start)))
	return true
}

// worthTrimming is the policy: quiet since prev (allocated under a tenth
// of the live heap), and retaining at least minRelease and an eighth of
// it. Idle connections still make a little garbage (a ping's queue entry,
// a publish now and then: ~2% of the heap per look at 18,000), which the
// tenth leaves quiet.
func worthTrimming(prev, s Sample, minRelease uint64) bool {
	quiet := s.Allocs-prev.Allocs < s.Live/10
	return quiet && s.Retained >= minRelease && s.Retained >= s.Live/8
}

// The runtime/metrics this package reads, in sampleNames order.
var sampleNames = [...]string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
}

// readRuntime reads a Sample from runtime/metrics.
func readRuntime() Sample {
	var ms [len(sampleNames)]metrics.Sample
	for i, n := range sampleNames {
		ms[i].Name = n
	}
	metrics.Read(ms[:])
	v := func(i int) uint64 {
		if ms[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return ms[i].Value.Uint64()
	}
	s := Sample{Allocs: v(0), Live: v(1)}
	if objects := v(2); objects > s.Live {
		s.Retained = objects - s.Live
	}
	s.Retained += v(3)
	return s
}

// runtimeRelease collects and returns every free page to the system.
func runtimeRelease() { debug.FreeOSMemory() }
