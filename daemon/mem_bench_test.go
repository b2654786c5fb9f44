package daemon

import (
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkSessionHeap measures the live heap one held connection costs
// the core: memSessions sessions (a token with a subject, a "{sub}"
// pattern and an expiry, as the load generator's), each subscribed to its
// own channel, on a transport that keeps nothing. It reports the heap's
// growth per session as B/session, connection events included: with the
// default ring of 10,000 lines, the ring's cost is spread over the
// sessions that filled it.
//
// One measurement is enough per run: go test -run '^$' -bench SessionHeap
// -benchtime=1x -count=5 ./daemon/
func BenchmarkSessionHeap(b *testing.B) {
	const memSessions = 9000
	var perSession float64
	for b.Loop() {
		b.StopTimer()
		perSession = measureSessionHeap(b, memSessions)
		b.StartTimer()
	}
	b.ReportMetric(perSession, "B/session")
}

func measureSessionHeap(tb testing.TB, count int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := New(Options{Frame: func(m []byte) []byte { return m }})
	ts := make([]nopTransport, count)
	sessions := make([]*Session, count)
	exp := time.Now().Add(time.Hour)
	for i := range sessions {
		sub := "user" + strconv.Itoa(i)
		s := n.Connect(&ts[i], Identity{Subject: sub, Channels: []string{"bench:{sub}"}, Expires: exp, TokenID: "t" + strconv.Itoa(i)})
		s.Message(false, []byte(`{"action":"subscribe","channel":"bench:`+sub+`"}`))
		sessions[i] = s
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := n.Stats().Subscriptions; got != int64(count) {
		tb.Fatalf("%d subscriptions, want %d", got, count)
	}
	// The benchmark's own slice of sessions (8 bytes each) is taken out.
	per := (float64(after.HeapAlloc)-float64(before.HeapAlloc))/float64(count) - 8
	runtime.KeepAlive(ts)
	runtime.KeepAlive(sessions)
	runtime.KeepAlive(n)
	return per
}

// nopTransport keeps nothing and takes no heap of its own.
type nopTransport struct{}

func (*nopTransport) Send([]byte) bool                                          { return true }
func (*nopTransport) Queue([]byte) (bool, bool)                                 { return true, true }
func (*nopTransport) QueueEventAt([]byte, uint64, int, int64) (bool, bool, int) { return true, true, 0 }
func (*nopTransport) Flush()                                                    {}
func (*nopTransport) Close(int, string)                                         {}

// TestHeldSizes: the structs a held subscribed connection costs by the
// thousand stay within their allocator size classes (see Session and
// channel); a field more moves each to the next class, 16 or more bytes
// a connection.
func TestHeldSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"Session", unsafe.Sizeof(Session{}), 144},
		{"channel", unsafe.Sizeof(channel{}), 112},
		{"connLine", unsafe.Sizeof(connLine{}), 64},
		{"subscription", unsafe.Sizeof(subscription{}), 32},
		{"registration", unsafe.Sizeof(registration{}), 16},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, over its %d-byte size class", c.name, c.size, c.max)
		}
	}
}
