package fanoutd

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/fanoutd/fanoutd/ipc"
)

// chaosDuration is the chaos run's length: 15 s in `make test`,
// FANOUTD_CHAOS (e.g. 60s) for the full run (`make chaos`).
func chaosDuration(t *testing.T) time.Duration {
	if v := os.Getenv("FANOUTD_CHAOS"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("FANOUTD_CHAOS: %v", err)
		}
		return d
	}
	return 15 * time.Second
}

// chaosReader collects one subscriber's frames in the background.
type chaosReader struct {
	mu     sync.Mutex
	frames []map[string]any
	done   chan struct{}
}

func readAllFrames(w *wsClient) *chaosReader {
	r := &chaosReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			m, err := w.tryNext(30 * time.Second)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.frames = append(r.frames, m)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *chaosReader) snapshot() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.frames...)
}

// TestChaosBrokerBounces: Redis is killed and restarted every 3 s while a
// publisher runs at a steady rate through two nodes and subscribers on both
// read. No loss is silent: every subscriber's events are contiguous per
// epoch unless a missed frame came in between, every event accepted after
// the last bounce arrives everywhere, and goroutines and descriptors come
// back to where they were.
func TestChaosBrokerBounces(t *testing.T) {
	r := redistest.Start(t)
	a, b := startDaemon(t, onRedis(r)), startDaemon(t, onRedis(r))
	// The baseline is a warm daemon pair: connection pools filled, then
	// the publish clients' idle connections dropped (as at the end).
	for i := range 20 {
		[]*testDaemon{a, b}[i%2].publish("warm-up", "t", "1")
	}
	a.pub.Close()
	b.pub.Close()
	time.Sleep(100 * time.Millisecond)
	baseGoroutines, baseFDs := runtime.NumGoroutine(), fdCount(t)

	var readers []*chaosReader
	var clients []*wsClient
	for _, d := range []*testDaemon{a, a, b, b} {
		w := d.dial(token(t, "u", "*"))
		w.subscribe("chaos")
		clients = append(clients, w)
		readers = append(readers, readAllFrames(w))
	}

	type accepted struct {
		epoch  string
		offset uint64
	}
	var (
		mu       sync.Mutex
		ok       []accepted
		failed   int
		lastDown time.Time
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the publisher: every 20 ms, alternating nodes
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pub := []*ipc.Client{a.pub, b.pub}[i%2]
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			pos, err := pub.PublishEvents(ctx, []ipc.Event{{Channel: "chaos", Type: "t", Payload: json.RawMessage("1")}})
			cancel()
			mu.Lock()
			if err != nil {
				failed++
			} else {
				ok = append(ok, accepted{pos[0].Epoch, pos[0].Offset})
			}
			mu.Unlock()
		}
	})
	deadline := time.Now().Add(chaosDuration(t))
	bounces := 0
	for time.Now().Before(deadline) {
		time.Sleep(3 * time.Second)
		r.Kill()
		mu.Lock()
		lastDown = time.Now()
		mu.Unlock()
		time.Sleep(500 * time.Millisecond)
		r.Restart()
		bounces++
	}
	time.Sleep(3 * time.Second) // steady state after the last bounce
	close(stop)
	wg.Wait()

	mu.Lock()
	var tail []accepted // accepted after the last bounce: must arrive everywhere
	for _, x := range ok {
		if x.epoch == ok[len(ok)-1].epoch {
			tail = append(tail, x)
		}
	}
	t.Logf("%d bounces, %d publishes accepted, %d refused loudly (503), %d in the last epoch; last outage at %v",
		bounces, len(ok), failed, len(tail), lastDown.Format(time.TimeOnly))
	mu.Unlock()
	if len(tail) == 0 {
		t.Fatal("nothing was accepted after the last bounce: delivery did not resume")
	}

	for i, rd := range readers {
		want := tail[len(tail)-1]
		waitFor(t, 20*time.Second, "the last event at every subscriber", func() bool {
			fr := rd.snapshot()
			for j := len(fr) - 1; j >= 0; j-- {
				if fr[j]["epoch"] == want.epoch && fr[j]["offset"] == float64(want.offset) {
					return true
				}
			}
			return false
		})
		checkNoSilentGap(t, i, rd.snapshot())
		got := map[accepted]bool{}
		for _, m := range rd.snapshot() {
			if e, ok := m["epoch"].(string); ok && m["type"] == "t" {
				got[accepted{e, uint64(m["offset"].(float64))}] = true
			}
		}
		for _, x := range tail {
			if !got[x] {
				t.Fatalf("subscriber %d never got %v, accepted after the last bounce", i, x)
			}
		}
	}

	for _, w := range clients {
		_ = w.c.CloseNow()
	}
	a.pub.Close()
	b.pub.Close()
	for _, rd := range readers {
		<-rd.done
	}
	settled := waitUntil(20*time.Second, func() bool {
		// A few Redis pool connections may be open that the warm-up did
		// not need: bounded by the pool, not growing with the run.
		return runtime.NumGoroutine() <= baseGoroutines+2 && fdCount(t) <= baseFDs+4
	})
	if !settled {
		t.Fatalf("goroutines %d (before %d), descriptors %d (before %d)", runtime.NumGoroutine(), baseGoroutines, fdCount(t), baseFDs)
	}
}

// checkNoSilentGap: within one subscriber's frames, each event follows the
// previous one of its epoch, unless a missed frame came in between.
func checkNoSilentGap(t *testing.T, sub int, frames []map[string]any) {
	t.Helper()
	var epoch string
	var last float64
	told := true // before the first event, anything goes
	for _, m := range frames {
		switch m["type"] {
		case "missed":
			told = true
		case "t":
			e, off := m["epoch"].(string), m["offset"].(float64)
			if !told && (e != epoch || off != last+1) {
				t.Fatalf("subscriber %d: event %v:%v after %v:%v with no missed frame between", sub, e, off, epoch, last)
			}
			epoch, last, told = e, off, false
		}
	}
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
