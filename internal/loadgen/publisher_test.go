package loadgen

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// recordingAPI accepts every request and remembers its events' seqs.
type recordingAPI struct {
	mu       sync.Mutex
	requests [][]int64
	fail     bool
}

func (a *recordingAPI) publish(_ context.Context, body []byte) (int64, error) {
	var seqs []int64
	for part := range bytes.SplitSeq(body, []byte(`},{`)) {
		_, seq, ok := parseEvent(part)
		if ok {
			seqs = append(seqs, seq)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests = append(a.requests, seqs)
	if a.fail {
		return 0, errors.New("refused")
	}
	return int64(len(seqs)), nil
}

// fakeClock is advanced by the test only; the publisher sleeps on tick.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// runPaced drives a publisher on a fake clock, one 2 ms tick at a time. A
// publisher that spun instead of waiting for its tick would never return
// (the clock does not move without the test), so the test would time out.
func runPaced(t *testing.T, p *publisher) time.Duration {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	tick := make(chan time.Time)
	p.now, p.tick = clock.now, tick
	done := make(chan time.Duration, 1)
	go func() { done <- p.run(context.Background()) }()
	for {
		select {
		case w := <-done:
			return w
		case tick <- clock.now():
			clock.advance(2 * time.Millisecond)
		case <-time.After(5 * time.Second):
			t.Fatal("publisher neither waits for its tick nor ends")
		}
	}
}

func TestPublisherPacesWholeBatchesInOrder(t *testing.T) {
	for _, batch := range []int{1, 10, 7} {
		api := &recordingAPI{}
		p := &publisher{api: api, pacer: Pacer{Rate: 1000, Duration: time.Second}, batch: batch, payload: 100,
			channels: 4, subs: NewSubscribers(8, 4, nil)}
		window := runPaced(t, p)
		if window < time.Second || window > time.Second+4*time.Millisecond {
			t.Errorf("batch %d: window %v", batch, window)
		}
		var next int64
		for i, r := range api.requests {
			if len(r) != batch && i != len(api.requests)-1 {
				t.Fatalf("batch %d: request %d has %d events", batch, i, len(r))
			}
			for _, seq := range r {
				if seq != next {
					t.Fatalf("batch %d: seq %d, want %d", batch, seq, next)
				}
				next++
			}
		}
		if next != 1000 || p.published.Load() != 1000 || p.accepted.Load() != 1000 || p.expected.Load() != 2000 {
			t.Errorf("batch %d: sent %d, published %d, accepted %d, expected %d", batch, next,
				p.published.Load(), p.accepted.Load(), p.expected.Load())
		}
	}
}

func TestPublisherCountsRefusedRequests(t *testing.T) {
	api := &recordingAPI{fail: true}
	p := &publisher{api: api, pacer: Pacer{Rate: 100, Duration: 100 * time.Millisecond}, batch: 2, payload: 100,
		channels: 1, subs: NewSubscribers(3, 1, nil)}
	runPaced(t, p)
	if p.published.Load() != 10 || p.accepted.Load() != 0 || p.expected.Load() != 0 || p.failed.Load() != 5 ||
		p.errs.snapshot()["refused"] != 5 {
		t.Fatalf("published %d accepted %d expected %d failed %d %v", p.published.Load(), p.accepted.Load(),
			p.expected.Load(), p.failed.Load(), p.errs.snapshot())
	}
}

func TestPublishTick(t *testing.T) {
	cases := []struct {
		rate  float64
		batch int
		want  time.Duration
	}{
		{rate: 100, batch: 1, want: 5 * time.Millisecond},
		{rate: 500, batch: 1, want: 2 * time.Millisecond},
		{rate: 1000, batch: 1, want: time.Millisecond},
		{rate: 100000, batch: 10, want: time.Millisecond},
		{rate: 1000, batch: 10, want: 5 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := publishTick(tc.rate, tc.batch); got != tc.want {
			t.Errorf("publishTick(%v, %d) = %v, want %v", tc.rate, tc.batch, got, tc.want)
		}
	}
}
