package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// connect waits until every worker is ready (or has died), printing
// progress, then fixes the subscriber counts that "expected" is built on.
func (r *run) connect(ctx context.Context) error {
	start := r.o.Now()
	ready := func() bool {
		return r.fleet.all(func(s *workerState) bool { return s.ready != nil || s.ended })
	}
	tick := func() {
		el := r.o.Now().Sub(start).Seconds()
		ok := r.fleet.sum(func(m *Message) int64 { return m.Connected })
		r.progress("connect  %5.1fs  %d/%d subscribed, %d failed, %.0f/s", el, ok, r.cfg.Conns,
			r.fleet.sum(func(m *Message) int64 { return m.Failed }), float64(ok)/max(el, 1e-9))
	}
	// Workers bound their own connection phase; the margin covers the
	// handshakes still in flight at that moment.
	deadline := start.Add(r.cfg.ConnectTimeout + 30*time.Second)
	if err := r.fleet.await(ctx, deadline, r.o.ProgressEvery, nil, tick, ready); err != nil {
		return fmt.Errorf("connection phase: %w", err)
	}
	var failed []int
	var first, last int64
	for i := range r.fleet.state {
		m := r.fleet.state[i].ready
		if m == nil {
			return fmt.Errorf("%w: worker %d ended before it was ready", ErrWorker, i)
		}
		failed = append(failed, m.FailedIdx...)
		r.rep.Connected += m.Connected
		r.rep.ConnectFailures += m.Failed
		r.rep.ConnectErrors = mergeCounts(r.rep.ConnectErrors, m.ConnectErrors)
		if m.FirstDialNs > 0 && (first == 0 || m.FirstDialNs < first) {
			first = m.FirstDialNs
		}
		last = max(last, m.LastReadyNs)
	}
	if first > 0 && last > first {
		r.rep.ConnectSeconds = float64(last-first) / 1e9
		r.rep.ConnectRate = float64(r.rep.Connected) / r.rep.ConnectSeconds
	}
	tick()
	r.subs = NewSubscribers(r.cfg.Conns, r.cfg.Channels, failed)
	if r.subs.Total() == 0 {
		return fmt.Errorf("no connection became ready")
	}
	return nil
}

// measureConnected samples the daemon once every connection is subscribed.
func (r *run) measureConnected(ctx context.Context) {
	d := &r.rep.Daemon
	if st, err := r.api.stats(ctx); err == nil {
		d.Goroutines, d.Connections = st.Goroutines, st.Connections
	}
	if d.ProcError != "" {
		return
	}
	ps, err := r.daemon.Status()
	if err != nil {
		d.ProcError = err.Error()
		return
	}
	d.RSSAfterConnectBytes, d.Threads = ps.RSSBytes, ps.Threads
	if r.rep.Connected > 0 {
		d.RSSPerConnBytes = (ps.RSSBytes - d.RSSBeforeBytes) / r.rep.Connected
	}
}

// measureHeld samples the daemon's RSS again at the end of the window,
// every connection still held: with measureConnected's, what a connection
// costs right after the connects (their garbage not yet collected or
// returned) and once the daemon has held them for the run.
func (r *run) measureHeld() {
	d := &r.rep.Daemon
	if d.ProcError != "" || d.RSSAfterConnectBytes == 0 {
		return
	}
	ps, err := r.daemon.Status()
	if err != nil {
		return
	}
	d.RSSEndBytes = ps.RSSBytes
	if r.rep.Connected > 0 {
		d.RSSPerConnEndBytes = (ps.RSSBytes - d.RSSBeforeBytes) / r.rep.Connected
	}
}

// windowSample is what is read at both ends of the measured window.
type windowSample struct {
	daemonCPU, selfCPU float64
	delivered          uint64
	bytesOut           uint64
	compressed         uint64
	deflateConns       uint64
	at                 time.Time
}

func (r *run) sample(ctx context.Context) windowSample {
	s := windowSample{at: r.o.Now()}
	if r.rep.Daemon.ProcError == "" {
		s.daemonCPU, _ = r.daemon.CPUSeconds()
	}
	s.selfCPU, _ = Proc{}.CPUSeconds()
	st, err := r.api.stats(ctx)
	switch {
	case err == nil:
		s.delivered = st.Delivered
		s.bytesOut, s.compressed, s.deflateConns = st.Transport.BytesOut, st.Compressed, st.Transport.Deflate
	case errors.Is(err, errNoStats):
		s.delivered = uint64(r.received()) // the workers' own count, as of their latest lines
	}
	return s
}

// publishAndDrain publishes for the configured duration, then waits up to
// Drain for every expected delivery; the daemon's CPU is read at the start
// and at the end of that window.
func (r *run) publishAndDrain(ctx context.Context) error {
	c := r.cfg
	r.pub = &publisher{
		api: r.api, pacer: Pacer{Rate: c.Rate, Duration: c.Duration}, batch: c.Batch,
		payload: c.Payload, json: c.PayloadStyle == "json", channels: c.Channels, subs: r.subs, now: r.o.Now,
		centrifugo: c.Protocol == ProtocolCentrifugo,
	}
	s0 := r.sample(ctx)
	windowDone := make(chan time.Duration, 1)
	wake := make(chan struct{})
	go func() {
		windowDone <- r.pub.run(ctx)
		close(wake)
	}()
	err := r.awaitPublisher(ctx, windowDone, wake)
	if err == nil {
		err = r.drain(ctx)
	}
	s1 := r.sample(context.WithoutCancel(ctx))
	r.window(s0, s1)
	r.measureHeld()
	return err
}

func (r *run) awaitPublisher(ctx context.Context, windowDone <-chan time.Duration, wake <-chan struct{}) error {
	start := r.o.Now()
	finished := false
	done := func() bool {
		if !finished {
			select {
			case w := <-windowDone:
				r.rep.PublishSeconds, finished = w.Seconds(), true
			default:
			}
		}
		return finished
	}
	tick := func() {
		el := r.o.Now().Sub(start)
		r.progress("publish  %5.1fs  %d/%d published, %d accepted, %d/%d delivered",
			el.Seconds(), r.pub.published.Load(), r.pub.pacer.Due(el), r.pub.accepted.Load(),
			r.received(), r.pub.expected.Load())
	}
	// The publisher ends on its own when its window is over, or promptly
	// when ctx does; either way it is waited for, so it never outlives Run.
	err := r.fleet.await(context.Background(), time.Time{}, r.o.ProgressEvery, wake, tick, done)
	tick() // the window's last counts, also when it was shorter than a tick
	return errors.Join(err, ctx.Err())
}

// drain waits for stragglers: until every expected delivery was counted,
// or Drain passed.
func (r *run) drain(ctx context.Context) error {
	start := r.o.Now()
	caughtUp := func() bool {
		return r.received() >= r.pub.expected.Load() || r.fleet.all(func(s *workerState) bool { return s.ended })
	}
	tick := func() {
		r.progress("drain    %5.1fs  %d/%d delivered", r.o.Now().Sub(start).Seconds(), r.received(), r.pub.expected.Load())
	}
	err := r.fleet.await(ctx, start.Add(r.cfg.Drain), r.o.ProgressEvery, nil, tick, caughtUp)
	r.rep.DrainSeconds = r.o.Now().Sub(start).Seconds()
	if errors.Is(err, errTimeout) {
		return nil // stragglers that never came are "lost", not an error
	}
	return err
}

func (r *run) received() int64 { return r.fleet.sum(func(m *Message) int64 { return m.Received }) }

// window turns the two samples into the daemon's cost per delivery.
func (r *run) window(s0, s1 windowSample) {
	d := &r.rep.Daemon
	d.CPUSeconds = s1.daemonCPU - s0.daemonCPU
	d.Delivered = int64(s1.delivered - s0.delivered)
	if d.Delivered > 0 {
		d.BytesOutPerDelivery = float64(s1.bytesOut-s0.bytesOut) / float64(d.Delivered)
	}
	d.CompressedEvents = int64(s1.compressed - s0.compressed)
	d.DeflateConns = int64(s1.deflateConns)
	r.rep.Generator.PublisherCPUSeconds = s1.selfCPU - s0.selfCPU
	r.rep.Generator.WindowCPUSeconds = r.rep.Generator.PublisherCPUSeconds
}
