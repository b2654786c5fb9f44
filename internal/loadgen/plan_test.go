package loadgen

import "testing"

func TestProcRangeCoversEveryConnectionOnce(t *testing.T) {
	for _, tc := range []struct{ conns, procs int }{{1, 1}, {300, 2}, {10, 3}, {20000, 2}, {7, 7}} {
		next := 0
		for p := range tc.procs {
			first, count := ProcRange(tc.conns, tc.procs, p)
			if first != next || count < 1 {
				t.Fatalf("%+v proc %d: [%d,+%d), want start %d and count >= 1", tc, p, first, count, next)
			}
			next = first + count
		}
		if next != tc.conns {
			t.Fatalf("%+v: ranges end at %d", tc, next)
		}
	}
}

// expectedBrute is the definition: every event seq goes to channel seq mod
// M and reaches each ready subscriber of that channel.
func expectedBrute(conns, channels int, failed []int, start, count int64) int64 {
	down := map[int]bool{}
	for _, i := range failed {
		down[i] = true
	}
	var n int64
	for seq := start; seq < start+count; seq++ {
		for i := range conns {
			if !down[i] && ChannelOf(int64(i), channels) == ChannelOf(seq, channels) {
				n++
			}
		}
	}
	return n
}

func TestExpectedDeliveries(t *testing.T) {
	cases := []struct {
		name            string
		conns, channels int
		failed          []int
	}{
		{name: "one channel", conns: 50, channels: 1},
		{name: "personal channels", conns: 20, channels: 20},
		{name: "uneven", conns: 23, channels: 7},
		{name: "more channels than conns", conns: 3, channels: 5},
		{name: "with failures", conns: 23, channels: 7, failed: []int{0, 6, 7, 22}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSubscribers(tc.conns, tc.channels, tc.failed)
			if got, want := s.Total(), int64(tc.conns-len(tc.failed)); got != want {
				t.Fatalf("Total %d, want %d", got, want)
			}
			for start := int64(0); start < 30; start += 3 {
				for count := int64(0); count < 40; count += 7 {
					got := s.Expected(start, count)
					if want := expectedBrute(tc.conns, tc.channels, tc.failed, start, count); got != want {
						t.Fatalf("Expected(%d, %d) = %d, want %d", start, count, got, want)
					}
				}
			}
		})
	}
}

func TestExpectedIsAdditiveOverBatches(t *testing.T) {
	s := NewSubscribers(10000, 10000, nil)
	if got := s.Expected(0, 10000); got != 10000 {
		t.Fatalf("personal channels, one event each: %d", got)
	}
	var sum int64
	for seq := int64(0); seq < 1000; seq += 7 {
		sum += s.Expected(seq, min(7, 1000-seq))
	}
	if sum != 1000 {
		t.Fatalf("batches of 7 sum to %d, want 1000", sum)
	}
	if got := NewSubscribers(2000, 1, nil).Expected(5, 1000); got != 2_000_000 {
		t.Fatalf("one channel, 2000 subscribers, 1000 events: %d", got)
	}
}
