package loadgen

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// connectAll starts one goroutine per connection, paced by ConnectRate and
// at most ConnectConcurrency in their handshake at once. Connections it
// never starts (ctx ended: stop, or the connection phase's timeout) count
// as failed.
func (w *worker) connectAll(ctx context.Context) {
	sem := make(chan struct{}, w.spec.ConnectConcurrency)
	start := w.now()
	for k := range w.spec.Count {
		if err := w.waitTurn(ctx, start, k, sem); err != nil {
			for rest := k; rest < w.spec.Count; rest++ {
				w.settle(rest, fmt.Errorf("not started: %w", err))
			}
			return
		}
		w.wg.Add(1)
		go w.serve(ctx, k, sem)
	}
}

// waitTurn blocks until connection k may start and holds a handshake slot.
func (w *worker) waitTurn(ctx context.Context, start time.Time, k int, sem chan struct{}) error {
	if d := start.Add(StartOffset(k, w.spec.ConnectRate)).Sub(w.now()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("connection phase ended: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("connection phase ended: %w", context.Cause(ctx))
	case sem <- struct{}{}:
		return nil
	}
}

// settle records connection k as ready (err nil) or failed.
func (w *worker) settle(k int, err error) {
	if err != nil {
		w.failed.Add(1)
		w.connectErrs.add(err)
		w.mu.Lock()
		w.failedIdx = append(w.failedIdx, w.spec.First+k)
		w.mu.Unlock()
	} else {
		w.connected.Add(1)
		storeMax(&w.lastReadyNs, w.now().UnixNano())
	}
	if w.pending.Add(-1) == 0 {
		close(w.allSettled)
	}
}

// register makes nc closable by shutdown; false if shutdown already ran.
func (w *worker) register(k int, nc net.Conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.conns[k] = nc
	return true
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func storeMin(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if (old != 0 && v >= old) || a.CompareAndSwap(old, v) {
			return
		}
	}
}
