package netpoll

import (
	"sync"
	"time"
)

// coalescer holds back the flushes of connections that were flushed less
// than Options.FlushDelay ago, and releases them together when the delay
// has passed, so that one writev carries every event queued meanwhile.
//
// Why: on loopback one write costs its sender 3.5–10 µs (the system call
// runs the receiver's TCP input and wakes the reader), while a writev of
// ten frames costs under 1 µs a frame. A connection that receives events
// rarely is flushed at once (the leading edge: no added latency when
// idle); one that receives them faster than one per FlushDelay gets one
// write per FlushDelay, each frame waiting at most FlushDelay.
//
// The list is guarded by mu; a connection is on it at most once
// (Conn.deferred). One timer serves every connection and runs only while
// the list is non-empty, so an idle server pays nothing for it.
type coalescer struct {
	delay int64 // ns; 0 disables coalescing

	mu    sync.Mutex
	list  []*Conn
	spare []*Conn // the previous list, reused: a warm coalescer allocates nothing
	armed bool
	timer *time.Timer
}

func newCoalescer(delay time.Duration) *coalescer {
	k := &coalescer{delay: int64(delay)}
	if delay > 0 {
		k.timer = time.AfterFunc(time.Hour, k.release)
		k.timer.Stop()
	}
	return k
}

// flush schedules c's write now, or defers it when c was flushed less
// than delay ago. now is the server clock.
func (k *coalescer) flush(c *Conn, now int64) {
	if k.delay == 0 {
		c.schedule(pendWrite)
		return
	}
	last := c.lastFlush.Load()
	if last == 0 || now-last >= k.delay {
		c.lastFlush.Store(now)
		c.schedule(pendWrite)
		return
	}
	if !c.deferred.CompareAndSwap(false, true) {
		return // already waiting for the timer
	}
	k.mu.Lock()
	k.list = append(k.list, c)
	if !k.armed {
		k.armed = true
		// The oldest waiting frame was queued after last, so it waits at
		// most delay.
		k.timer.Reset(time.Duration(last + k.delay - now))
	}
	k.mu.Unlock()
}

// release runs on the timer: every deferred connection is scheduled.
func (k *coalescer) release() {
	k.mu.Lock()
	list := k.list
	k.list, k.spare = k.spare[:0], nil
	k.armed = false
	k.mu.Unlock()
	now := int64(0)
	for i, c := range list {
		if now == 0 {
			now = c.srv.now()
		}
		c.lastFlush.Store(now)
		c.deferred.Store(false)
		c.schedule(pendWrite)
		list[i] = nil
	}
	k.mu.Lock()
	if k.spare == nil && cap(list) <= 1<<16 {
		k.spare = list[:0]
	}
	k.mu.Unlock()
}

// stop ends the timer at shutdown, once no connection is left to flush.
func (k *coalescer) stop() {
	if k.timer != nil {
		k.timer.Stop()
	}
}
