package netpoll

import (
	"testing"
	"time"
)

// newCoalescerServer is the least of a Server that Conn.schedule and the
// coalescer need: a run queue to look at.
func newCoalescerServer(delay time.Duration) *Server {
	return &Server{runq: make(runq, 16), coalesce: newCoalescer(delay), opts: Options{Now: time.Now}, start: time.Now()}
}

func drainRunq(s *Server) (n int) {
	for {
		select {
		case c := <-s.runq:
			c.queued.Store(false)
			n++
		default:
			return n
		}
	}
}

// TestFlushDelayLeadingEdge: the first flush goes at once, those that follow
// within the delay wait for the timer and go together; without a delay
// every flush goes at once.
func TestFlushDelayLeadingEdge(t *testing.T) {
	s := newCoalescerServer(time.Hour) // the timer never fires by itself here
	defer s.coalesce.stop()
	a, b := &Conn{srv: s}, &Conn{srv: s}
	k := s.coalesce
	k.flush(a, 1)
	k.flush(b, 1)
	if n := drainRunq(s); n != 2 {
		t.Fatalf("first flushes scheduled %d, want 2", n)
	}
	k.flush(a, 2)
	k.flush(a, 3) // deferred once
	k.flush(b, 4)
	if n := drainRunq(s); n != 0 {
		t.Fatalf("flushes within the delay scheduled %d, want 0", n)
	}
	if len(k.list) != 2 || !a.deferred.Load() {
		t.Fatalf("deferred list %d, want a and b once each", len(k.list))
	}
	k.release()
	if n := drainRunq(s); n != 2 {
		t.Fatalf("release scheduled %d, want 2", n)
	}
	if a.deferred.Load() || a.pending.Load()&pendWrite == 0 {
		t.Fatal("a not scheduled for a write")
	}
	k.flush(a, a.lastFlush.Load()+int64(time.Hour)) // idle for the delay: at once
	if n := drainRunq(s); n != 1 {
		t.Fatalf("flush after the delay scheduled %d, want 1", n)
	}

	off := newCoalescerServer(0)
	c := &Conn{srv: off}
	for i := range 3 {
		c.Flush()
		if n := drainRunq(off); n != 1 {
			t.Fatalf("flush %d without delay scheduled %d, want 1", i, n)
		}
	}
}

// TestFlushDelayTimerReleases: the real timer releases deferred flushes.
func TestFlushDelayTimerReleases(t *testing.T) {
	s := newCoalescerServer(time.Millisecond)
	defer s.coalesce.stop()
	c := &Conn{srv: s}
	c.Flush()
	c.Flush()
	select {
	case <-s.runq:
	case <-time.After(5 * time.Second):
		t.Fatal("first flush not scheduled")
	}
	c.queued.Store(false)
	select {
	case <-s.runq:
	case <-time.After(5 * time.Second):
		t.Fatal("deferred flush never released")
	}
}

// BenchmarkFlushPolicy is the publisher's cost of Flush per delivery, with
// and without coalescing (the connections are already queued, as under
// load, so no worker runs).
func BenchmarkFlushPolicy(b *testing.B) {
	for _, d := range []time.Duration{0, 2 * time.Millisecond} {
		b.Run(d.String(), func(b *testing.B) {
			s := newCoalescerServer(d)
			defer s.coalesce.stop()
			conns := make([]Conn, 1000)
			for i := range conns {
				conns[i].srv = s
				conns[i].queued.Store(true)
			}
			b.ReportAllocs()
			for b.Loop() {
				for i := range conns {
					conns[i].Flush()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(conns)), "ns/delivery")
		})
	}
}
