package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// RunWorker is a worker process's main: it reads its Spec from the first
// line of in, opens and subscribes its connections, reports "ready", counts
// deliveries until a "stop" line, EOF on in (the parent died), ctx's end or
// the Spec's Lifetime, then writes its "final" line to out and returns after
// every connection goroutine has ended.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	if !sc.Scan() {
		return fmt.Errorf("%w: no spec on stdin: %v", ErrWorker, sc.Err())
	}
	var spec Spec
	if err := json.Unmarshal(sc.Bytes(), &spec); err != nil {
		return fmt.Errorf("%w: bad spec: %w", ErrWorker, err)
	}
	// The parent validated the target, but a worker can be started by
	// hand: it refuses non-loopback targets on its own.
	if err := checkLoopbackAddr(spec.Target.Addr); err != nil {
		return err
	}
	spec = spec.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, spec.Lifetime)
	defer cancel()
	stop, stopNow := context.WithCancel(ctx)
	defer stopNow()
	go func() {
		defer stopNow()
		for sc.Scan() && sc.Text() != stopLine {
		}
	}()
	w := &worker{spec: spec, out: newLineWriter(out), now: time.Now, conns: make([]net.Conn, spec.Count)}
	return w.run(stop)
}

// worker is one process's share of the connections. Counters are atomics
// written by the connection goroutines; mu guards conns, closed and
// failedIdx (connection set-up and tear-down only, never the receive path).
type worker struct {
	spec Spec
	out  *lineWriter
	now  func() time.Time
	hist Histogram

	connected, failed, pending         atomic.Int64
	received, outOfOrder, other, pongs atomic.Int64
	disconnects                        atomic.Int64
	firstDialNs, lastReadyNs           atomic.Int64
	stopping                           atomic.Bool
	connectErrs, disconnectErrs        tally
	allSettled                         chan struct{} // closed when pending reaches 0

	mu        sync.Mutex
	conns     []net.Conn
	closed    bool
	failedIdx []int
	wg        sync.WaitGroup
}

func (w *worker) run(stop context.Context) error {
	w.allSettled = make(chan struct{})
	w.pending.Store(int64(w.spec.Count))
	progressDone := w.startProgress(stop)
	// The connection phase's context outlives connectAll: it also bounds
	// the handshakes still running, and ending it aborts them (open).
	ctx, cancel := context.WithTimeout(stop, w.spec.ConnectTimeout)
	w.connectAll(ctx)
	select {
	case <-w.allSettled:
	case <-ctx.Done():
	}
	cancel()
	<-w.allSettled // prompt: ending ctx aborted every dial and handshake
	err := w.emitReady()
	<-stop.Done()
	w.shutdown()
	<-progressDone
	return errors.Join(err, w.emitFinal())
}

// startProgress writes a progress line every ProgressEvery until stop.
func (w *worker) startProgress(stop context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.spec.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop.Done():
				return
			case <-t.C:
				_ = w.out.write(w.counters(msgProgress))
			}
		}
	}()
	return done
}

func (w *worker) counters(typ string) Message {
	return Message{
		Type: typ, Worker: w.spec.Worker,
		Connected: w.connected.Load(), Failed: w.failed.Load(),
		Received: w.received.Load(), Disconnects: w.disconnects.Load(),
	}
}

func (w *worker) emitReady() error {
	m := w.counters(msgReady)
	w.mu.Lock()
	m.FailedIdx = append([]int(nil), w.failedIdx...)
	w.mu.Unlock()
	m.ConnectErrors = w.connectErrs.snapshot()
	m.FirstDialNs, m.LastReadyNs = w.firstDialNs.Load(), w.lastReadyNs.Load()
	if st, err := (Proc{}).Status(); err == nil {
		m.RSSBytes = st.RSSBytes
	}
	m.CPUSeconds, _ = Proc{}.CPUSeconds()
	return w.out.write(m)
}

func (w *worker) emitFinal() error {
	m := w.counters(msgFinal)
	m.OutOfOrder, m.OtherFrames, m.Pongs = w.outOfOrder.Load(), w.other.Load(), w.pongs.Load()
	m.DisconnectReasons = w.disconnectErrs.snapshot()
	snap := w.hist.Snapshot()
	m.Latency = &snap
	if st, err := (Proc{}).Status(); err == nil {
		m.RSSBytes = st.HWMBytes
	}
	m.CPUSeconds, _ = Proc{}.CPUSeconds()
	return w.out.write(m)
}

// shutdown ends the measurement: from here on a closed connection is not a
// disconnect. It closes every socket (unblocking each reader) and waits for
// all connection goroutines, so the final counters are complete.
func (w *worker) shutdown() {
	w.stopping.Store(true)
	w.mu.Lock()
	w.closed = true
	for _, nc := range w.conns {
		if nc != nil {
			_ = nc.Close()
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
}
