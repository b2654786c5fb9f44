package loadgen

import (
	"math"
	"time"
)

// Pacer is the fixed-rate schedule of a publishing window: how many events
// should have been sent after some time. The publisher wakes on a coarse
// ticker and sends what is due, so the achieved rate does not depend on
// timer precision, and a slow request is caught up on the next tick.
type Pacer struct {
	Rate     float64       // events per second
	Duration time.Duration // length of the window
}

// Total is the number of events in the whole window.
func (p Pacer) Total() int64 { return int64(math.Round(p.Rate * p.Duration.Seconds())) }

// Due is the number of events that should have been sent after elapsed.
func (p Pacer) Due(elapsed time.Duration) int64 {
	if elapsed >= p.Duration {
		return p.Total()
	}
	if elapsed <= 0 {
		return 0
	}
	return min(p.Total(), int64(p.Rate*elapsed.Seconds()))
}

// ToSend is how many events to send now, given how many are due and how
// many were sent: whole batches only, so every request carries batch events,
// except at the end of the window (final) where the remainder goes too. At
// most limit are sent at once, so a publisher that fell far behind does not
// fire one enormous burst.
func ToSend(due, sent int64, batch int, final bool, limit int64) int64 {
	n := due - sent
	if n <= 0 {
		return 0
	}
	if !final {
		n -= n % int64(batch)
	}
	return min(n, max(limit, int64(batch)))
}

// StartOffset is when the k-th of a worker's connections may start dialing
// at rate connections per second (0: at once).
func StartOffset(k int, rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(k) / rate * float64(time.Second))
}
