package loadgen

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Bounds of the publisher's pacing granularity: coarse enough that timer
// precision does not matter and an idle publisher costs little CPU (each
// wake-up costs tens of µs here), fine enough that bursts stay small.
const (
	minPublishTick = time.Millisecond
	maxPublishTick = 5 * time.Millisecond
)

// publishTick is the wake-up period for rate events/s in batches: about
// one batch per tick, within [minPublishTick, maxPublishTick].
func publishTick(rate float64, batch int) time.Duration {
	d := time.Duration(float64(batch) / rate * float64(time.Second))
	return min(max(d, minPublishTick), maxPublishTick)
}

// publisher sends the bench events at a fixed rate over the publish API,
// one request at a time (so events of a channel stay in order). Its
// counters are atomics that the progress display reads while it runs.
type publisher struct {
	api     publishAPI
	pacer   Pacer
	batch   int
	payload int
	json    bool // PayloadStyle "json"
	// centrifugo builds Centrifugo API bodies (appendCentrifugoBody)
	// instead of fanoutd's.
	centrifugo bool
	channels   int
	subs       *Subscribers
	now        func() time.Time
	tick       <-chan time.Time // wake-ups; nil means a real ticker (publishTick)

	published atomic.Int64 // events sent in requests
	accepted  atomic.Int64 // events the daemon confirmed (200, "published")
	expected  atomic.Int64 // deliveries owed for the accepted events
	errs      tally        // failed requests by reason
	failed    atomic.Int64 // requests that failed

	buf []byte
}

// run publishes until the window ends or ctx does, and returns the time
// from the first request to the answer of the last. A publisher that fell
// behind (a slow request) catches up without sleeping, at most ~50 ms worth
// of events per step so it never fires one enormous burst; events still
// unsent when the window ends may go out during a grace of a tenth of the
// window (at most 1 s). What cannot be sent by then is not sent: published
// then falls short of the target, and the report says so.
func (p *publisher) run(ctx context.Context) time.Duration {
	start := p.now()
	limit := max(int64(p.batch), int64(p.pacer.Rate*0.05))
	grace := min(p.pacer.Duration/10, time.Second)
	total := p.pacer.Total()
	if p.tick == nil {
		t := time.NewTicker(publishTick(p.pacer.Rate, p.batch))
		defer t.Stop()
		p.tick = t.C
	}
	var sent int64
	for ctx.Err() == nil {
		el := p.now().Sub(start)
		final := el >= p.pacer.Duration
		for n := ToSend(p.pacer.Due(el), sent, p.batch, final, limit); n > 0 && ctx.Err() == nil; {
			b := min(n, int64(p.batch))
			p.send(ctx, sent, b)
			sent += b
			n -= b
		}
		if sent >= total || el >= p.pacer.Duration+grace {
			break
		}
		if el := p.now().Sub(start); ToSend(p.pacer.Due(el), sent, p.batch, el >= p.pacer.Duration, limit) > 0 {
			continue // behind by a whole batch or more: no sleep
		}
		select {
		case <-ctx.Done():
		case <-p.tick:
		}
	}
	return p.now().Sub(start)
}

// publishAPI is the publish call the publisher needs: the daemon's API
// (apiClient) in a run, a recorder in tests.
type publishAPI interface {
	// publish posts one request body and returns the daemon's "published".
	publish(ctx context.Context, body []byte) (int64, error)
}

var _ publishAPI = (*apiClient)(nil)

// send publishes events seq … seq+count-1 in one request.
func (p *publisher) send(ctx context.Context, seq, count int64) {
	p.buf = p.body(p.buf[:0], seq, count, p.now().UnixNano())
	p.published.Add(count)
	n, err := p.api.publish(ctx, p.buf)
	if err == nil && n != count {
		err = fmt.Errorf("%w: daemon published %d of %d events", ErrPublishAPI, n, count)
	}
	if err != nil {
		p.failed.Add(1)
		p.errs.add(err)
		return
	}
	p.accepted.Add(count)
	p.expected.Add(p.subs.Expected(seq, count))
}

// body is one event object (batch 1) or a JSON array of count events, or
// the Centrifugo API's equivalent.
func (p *publisher) body(b []byte, seq, count, ts int64) []byte {
	if p.centrifugo {
		return appendCentrifugoBody(b, p.batch > 1, p.channels, seq, count, ts, p.payload, p.json)
	}
	if p.batch == 1 {
		return appendEvent(b, ChannelOf(seq, p.channels), ts, seq, p.payload, p.json)
	}
	b = append(b, '[')
	for i := range count {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, ChannelOf(seq+i, p.channels), ts, seq+i, p.payload, p.json)
	}
	return append(b, ']')
}
