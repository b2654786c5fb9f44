package netpoll

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

var planCases = []struct {
	name    string
	n       int
	window  time.Duration
	minRate int
	want    time.Duration // the window actually used
}{
	{name: "thousands over the window", n: 10000, window: 10 * time.Second, minRate: 1000, want: 10 * time.Second},
	{name: "few clients do not wait the window", n: 10, window: 10 * time.Second, minRate: 1000, want: 10 * time.Millisecond},
	{name: "one client", n: 1, window: time.Second, minRate: 1, want: time.Second},
	{name: "no window: all at once", n: 100, window: 0, minRate: 1000, want: 0},
}

// TestPlanClosesSpreadsInSlots: every close sits in its own slot of the
// window, in order, whatever the jitter draws.
func TestPlanClosesSpreadsInSlots(t *testing.T) {
	for _, c := range planCases {
		t.Run(c.name, func(t *testing.T) {
			for _, jitter := range []float64{0, 0.5, 0.999999} {
				plan := planCloses(c.n, c.window, c.minRate, func() float64 { return jitter })
				slot := c.want / time.Duration(c.n)
				for i, at := range plan {
					lo := time.Duration(i) * slot
					if at < lo || (slot > 0 && at >= lo+slot) || (slot == 0 && at != 0) {
						t.Fatalf("jitter %v: close %d at %v, outside its slot [%v, %v)", jitter, i, at, lo, lo+slot)
					}
				}
				if c.want > 0 && c.n > 1 && plan[c.n-1]-plan[0] < c.want/2 {
					t.Fatalf("jitter %v: closes from %v to %v, want them spread over %v", jitter, plan[0], plan[c.n-1], c.want)
				}
			}
		})
	}
}

// fakeClock is Options.Now and ShutdownOptions.Sleep for a drain checked
// without waiting for it: a sleep moves the clock and is recorded.
type fakeClock struct {
	base   time.Time
	offset atomic.Int64
	mu     sync.Mutex
	sleeps []time.Duration
}

func (f *fakeClock) now() time.Time { return f.base.Add(time.Duration(f.offset.Load())) }

func (f *fakeClock) sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	f.mu.Unlock()
	f.offset.Add(int64(d))
	return nil
}

// TestShutdownSpreadsClosesOverTheWindow: with N clients, the closes go
// out in several batches over the window (the daemon-side schedule, on a
// fake clock), every client gets what was queued for it, then the close
// code and its own reason, and Shutdown ends once all are gone.
func TestShutdownSpreadsClosesOverTheWindow(t *testing.T) {
	clock := &fakeClock{base: time.Now()}
	srv, h, addr := startServer(t, Options{Now: clock.now, CloseTimeout: time.Hour})
	const n = 40
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i], _ = connect(t, addr)
		h.session(t, i).c.Send(TextFrame([]byte("last")))
	}
	var reasons atomic.Int64
	var progress []int
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- srv.ShutdownWith(ctx, ShutdownOptions{
			Code:     CloseServiceRestart,
			Reason:   func() string { return fmt.Sprintf(`{"reconnect_after_ms":%d}`, reasons.Add(1)) },
			Spread:   time.Second,
			MinRate:  1,
			Sleep:    clock.sleep,
			Progress: func(closed, _ int) { progress = append(progress, closed) },
		})
	}()
	seen := map[string]bool{}
	for i, c := range clients {
		if _, p := c.ReadFrame(); string(p) != "last" {
			t.Fatalf("client %d: %q before the close, want the queued frame", i, p)
		}
		hd, p := c.ReadFrame()
		if hd.OpCode != ws.OpClose || int(binary.BigEndian.Uint16(p)) != CloseServiceRestart {
			t.Fatalf("client %d: %v %q, want a close with %d", i, hd.OpCode, p, CloseServiceRestart)
		}
		seen[string(p[2:])] = true
		c.Write(frame(true, ws.OpClose, closeBody(CloseServiceRestart, ""), true))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("%d distinct reasons for %d clients: each close gets its own", len(seen), n)
	}
	var slept time.Duration
	for _, d := range clock.sleeps {
		slept += d
	}
	if len(clock.sleeps) < n/2 || slept > time.Second || slept < time.Second/2 {
		t.Fatalf("%d waits adding up to %v: want the closes spread over the 1s window", len(clock.sleeps), slept)
	}
	if len(progress) == 0 || progress[len(progress)-1] != n {
		t.Fatalf("progress %v, want it to end at %d", progress, n)
	}
	if srv.Conns() != 0 {
		t.Fatalf("%d connections left", srv.Conns())
	}
}
