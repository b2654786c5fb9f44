package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// fleet is the parent's view of its workers. One goroutine per worker reads
// its stdout and sends each line to events; everything else (state) is
// touched only by the goroutine that calls await, so it needs no lock.
type fleet struct {
	workers []Worker
	state   []workerState
	events  chan workerEvent
	readers sync.WaitGroup
}

type workerState struct {
	last  Message  // the latest line (cumulative counters)
	ready *Message // the "ready" line
	final *Message // the "final" line
	ended bool     // stdout reached EOF
	err   error
}

type workerEvent struct {
	id  int
	msg *Message
	err error // set with end
	end bool
}

func newFleet() *fleet { return &fleet{events: make(chan workerEvent, 64)} }

// add starts reading w's stdout.
func (f *fleet) add(w Worker) {
	id := len(f.workers)
	f.workers = append(f.workers, w)
	f.state = append(f.state, workerState{})
	f.readers.Add(1)
	go f.read(id, w.Stdout())
}

func (f *fleet) read(id int, r io.Reader) {
	defer f.readers.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20) // a "ready" line lists failed indices
	var err error
	for sc.Scan() {
		m := new(Message)
		if err = json.Unmarshal(sc.Bytes(), m); err != nil {
			err = fmt.Errorf("%w: worker %d: bad line %.80q: %w", ErrWorker, id, sc.Bytes(), err)
			break
		}
		f.events <- workerEvent{id: id, msg: m}
	}
	if err == nil {
		err = sc.Err()
	}
	_, _ = io.Copy(io.Discard, r) // let the worker finish writing, whatever it says
	f.events <- workerEvent{id: id, err: err, end: true}
}

func (f *fleet) apply(e workerEvent) {
	s := &f.state[e.id]
	if e.end {
		s.ended = true
		if e.err != nil {
			s.err = e.err
		} else if s.final == nil {
			s.err = fmt.Errorf("%w: worker %d exited before its final report", ErrWorker, e.id)
		}
		return
	}
	s.last = *e.msg
	switch e.msg.Type {
	case msgReady:
		s.ready = e.msg
	case msgFinal:
		s.final = e.msg
	}
	if e.msg.Error != "" && s.err == nil {
		s.err = fmt.Errorf("%w: worker %d: %s", ErrWorker, e.id, e.msg.Error)
	}
}

// await applies worker lines until done() holds, calling tick every
// interval. done is checked after every line, tick and receive from wake
// (nil: none), which lets another goroutine end the wait at once. It
// returns ctx's error if ctx ends first and errTimeout at deadline (zero:
// none).
func (f *fleet) await(ctx context.Context, deadline time.Time, every time.Duration, wake <-chan struct{},
	tick func(), done func() bool) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		timeout = tm.C
	}
	for !done() {
		select {
		case e := <-f.events:
			f.apply(e)
		case <-t.C:
			tick()
		case <-wake:
		case <-timeout:
			return errTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// all reports whether pred holds for every worker.
func (f *fleet) all(pred func(*workerState) bool) bool {
	for i := range f.state {
		if !pred(&f.state[i]) {
			return false
		}
	}
	return true
}

// sum adds a counter over the workers' latest lines.
func (f *fleet) sum(field func(*Message) int64) int64 {
	var n int64
	for i := range f.state {
		n += field(&f.state[i].last)
	}
	return n
}

// stop sends "stop", closes every stdin, waits (bounded by grace) for every
// stdout to end, killing late workers, and reaps them. It returns the
// workers' CPU time.
func (f *fleet) stop(grace time.Duration) time.Duration {
	for _, w := range f.workers {
		_, _ = io.WriteString(w.Stdin(), stopLine+"\n")
		_ = w.Stdin().Close()
	}
	ended := func() bool { return f.all(func(s *workerState) bool { return s.ended }) }
	if err := f.await(context.Background(), time.Now().Add(grace), time.Second, nil, func() {}, ended); err != nil {
		for i, w := range f.workers {
			if !f.state[i].ended {
				w.Kill()
			}
		}
		_ = f.await(context.Background(), time.Time{}, time.Second, nil, func() {}, ended)
	}
	f.readers.Wait()
	var cpu time.Duration
	for i, w := range f.workers {
		c, err := w.Wait()
		cpu += c
		if err != nil && f.state[i].err == nil {
			f.state[i].err = err
		}
	}
	return cpu
}

// errs joins the workers' errors.
func (f *fleet) errs() error {
	var errs []error
	for i := range f.state {
		errs = append(errs, f.state[i].err)
	}
	return errors.Join(errs...)
}
