package loadgen

import (
	"testing"
	"time"
)

func TestPacerDue(t *testing.T) {
	p := Pacer{Rate: 1000, Duration: 10 * time.Second}
	cases := []struct {
		elapsed time.Duration
		want    int64
	}{
		{elapsed: -time.Second, want: 0},
		{elapsed: 0, want: 0},
		{elapsed: 999 * time.Microsecond, want: 0},
		{elapsed: time.Millisecond, want: 1},
		{elapsed: 2500 * time.Millisecond, want: 2500},
		{elapsed: 10 * time.Second, want: 10000},
		{elapsed: time.Minute, want: 10000},
	}
	for _, tc := range cases {
		if got := p.Due(tc.elapsed); got != tc.want {
			t.Errorf("Due(%v) = %d, want %d", tc.elapsed, got, tc.want)
		}
	}
	// A rate whose product is not exact in floating point still ends on
	// the rounded total.
	q := Pacer{Rate: 0.1, Duration: 30 * time.Second}
	if q.Total() != 3 || q.Due(30*time.Second) != 3 {
		t.Errorf("0.1/s for 30s: total %d, due %d", q.Total(), q.Due(30*time.Second))
	}
}

func TestToSend(t *testing.T) {
	cases := []struct {
		name        string
		due, sent   int64
		batch       int
		final       bool
		limit, want int64
	}{
		{name: "nothing due", due: 5, sent: 5, batch: 1, limit: 100, want: 0},
		{name: "single events", due: 7, sent: 5, batch: 1, limit: 100, want: 2},
		{name: "whole batches only", due: 27, sent: 0, batch: 10, limit: 100, want: 20},
		{name: "less than a batch waits", due: 9, sent: 0, batch: 10, limit: 100, want: 0},
		{name: "final sends the rest", due: 9, sent: 0, batch: 10, final: true, limit: 100, want: 9},
		{name: "behind is capped", due: 5000, sent: 0, batch: 1, limit: 50, want: 50},
		{name: "cap never below a batch", due: 500, sent: 0, batch: 100, limit: 50, want: 100},
	}
	for _, tc := range cases {
		if got := ToSend(tc.due, tc.sent, tc.batch, tc.final, tc.limit); got != tc.want {
			t.Errorf("%s: ToSend = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestPacedLoopKeepsRate simulates the publisher's loop on a fake clock
// ticking every 2 ms: the whole target goes out, in whole batches, and the
// sent count never runs ahead of schedule.
func TestPacedLoopKeepsRate(t *testing.T) {
	p := Pacer{Rate: 1234, Duration: 3 * time.Second}
	const batch = 10
	var sent int64
	requests := 0
	for el := time.Duration(0); ; el += 2 * time.Millisecond {
		final := el >= p.Duration
		n := ToSend(p.Due(el), sent, batch, final, 1<<40)
		for n > 0 {
			b := min(n, batch)
			if b != batch && !final {
				t.Fatalf("partial batch of %d at %v", b, el)
			}
			sent, n = sent+b, n-b
			requests++
		}
		if sent > p.Due(el) {
			t.Fatalf("ahead of schedule at %v: %d > %d", el, sent, p.Due(el))
		}
		if final {
			break
		}
	}
	if sent != p.Total() || p.Total() != 3702 || requests != 371 {
		t.Fatalf("sent %d of %d in %d requests", sent, p.Total(), requests)
	}
}

func TestStartOffset(t *testing.T) {
	if StartOffset(500, 0) != 0 {
		t.Error("rate 0 must not pace")
	}
	if got := StartOffset(250, 1000); got != 250*time.Millisecond {
		t.Errorf("StartOffset(250, 1000/s) = %v", got)
	}
}
