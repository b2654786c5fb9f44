package netpoll

import (
	"context"
	"math/rand/v2"
	"time"
)

// ShutdownOptions say how Shutdown lets the connections go.
type ShutdownOptions struct {
	// Code is every close frame's code, normally CloseServiceRestart or
	// CloseGoingAway.
	Code int
	// Reason returns the close reason of the next connection, so that
	// each may carry its own reconnect hint (at most 123 bytes); nil means
	// none.
	Reason func() string
	// Spread is the window the closes are spread over, so that the
	// clients do not all reconnect in the same second: each connection
	// gets a slot of Spread/N and is closed at a random point in it. With
	// few connections the window is shorter: closes never go out slower
	// than MinRate per second. 0 closes every connection at once.
	Spread time.Duration
	// MinRate is the fewest closes per second while spreading. Default
	// 1,000.
	MinRate int
	// Progress, when set, is called from the draining goroutine at most
	// once a second while closes go out, and once when all went out, with
	// how many were started of how many: the caller's proof that the drain
	// moves (a service manager's EXTEND_TIMEOUT_USEC).
	Progress func(closed, total int)
	// Sleep waits d or until ctx ends (ctx's error then); nil means a
	// timer. Tests pass one that advances a fake clock (Options.Now), so
	// a schedule is checked without waiting for it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// closeBatch is how close together two closes are sent in one go rather
// than with a wait between them: waits shorter than this cost more in
// timers than they spread.
const closeBatch = 5 * time.Millisecond

// planCloses returns when each of n connections is closed, as offsets from
// the start of the drain, in increasing order: n slots of equal length
// over the window (shortened to n/minRate seconds when that is less), a
// close at a point drawn by jitter (in [0,1)) in each slot. Slotting
// rather than drawing n times over the window keeps clusters out: no two
// closes share a slot.
func planCloses(n int, window time.Duration, minRate int, jitter func() float64) []time.Duration {
	if n == 0 {
		return nil
	}
	if fast := time.Duration(n) * time.Second / time.Duration(minRate); fast < window {
		window = fast
	}
	slot := window / time.Duration(n)
	plan := make([]time.Duration, n)
	for i := range plan {
		plan[i] = time.Duration(i)*slot + time.Duration(jitter()*float64(slot))
	}
	return plan
}

// closeSpread closes every registered connection on the plan, with the
// code and a reason each; once ctx ends it closes the rest at once.
func (s *Server) closeSpread(ctx context.Context, o ShutdownOptions) {
	var conns []*Conn
	s.each(func(c *Conn) { conns = append(conns, c) })
	rand.Shuffle(len(conns), func(i, j int) { conns[i], conns[j] = conns[j], conns[i] })
	plan := planCloses(len(conns), o.Spread, o.MinRate, rand.Float64)
	start := s.opts.Now()
	lastProgress := start
	for i, c := range conns {
		if wait := plan[i] - s.opts.Now().Sub(start); wait > closeBatch && ctx.Err() == nil {
			_ = o.Sleep(ctx, wait) // a cancelled wait closes the rest now
		}
		c.Close(o.Code, o.Reason())
		if o.Progress != nil && s.opts.Now().Sub(lastProgress) >= time.Second {
			lastProgress = s.opts.Now()
			o.Progress(i+1, len(conns))
		}
	}
	if o.Progress != nil {
		o.Progress(len(conns), len(conns))
	}
}

func (o ShutdownOptions) withDefaults() ShutdownOptions {
	if o.Reason == nil {
		o.Reason = func() string { return "" }
	}
	if o.MinRate <= 0 {
		o.MinRate = 1000
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
