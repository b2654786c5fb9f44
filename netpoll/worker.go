package netpoll

import (
	"syscall"
)

// worker runs connections taken from the run queue. Its buffers are reused
// for every connection it runs, so an idle connection holds none.
type worker struct {
	s   *Server
	buf []byte            // read buffer for whole frames; a frame that does not fit moves to inbound.part
	iov [64]syscall.Iovec // writev scratch
	hs  *handshaker
	// zbuf receives inflated messages; the session gets them as it gets
	// the read buffer's, valid only during Session.Message.
	zbuf []byte
	// hup: the turn's events include a hang-up, so read must go on to
	// EOF even after a short read (see read).
	hup bool
	// stamped counts the writes that carried event frames, for sampling
	// the latency one in Options.LatencySample.
	stamped uint64
}

func newWorker(s *Server) *worker {
	return &worker{s: s, buf: make([]byte, max(s.opts.ReadBudget, 4096)), hs: newHandshaker(s)}
}

func (w *worker) loop() {
	for c := range w.s.runq {
		switch c {
		case nil:
			return
		case &w.s.probe.mark:
			w.s.probe.answer()
			continue
		}
		w.s.gate.RLock() // a turn never runs while frozen (freeze.go)
		w.run(c)
		w.s.gate.RUnlock()
	}
}

// run gives c one turn. Work that arrives during the turn, or a read cut
// short by the budget, sends c to the back of the queue so that one busy
// connection cannot starve the others.
func (w *worker) run(c *Conn) {
	bits := c.pending.Swap(0)
	if c.state.Load() != stateClosed {
		w.handle(c, bits)
	}
	if c.pending.Load() != 0 && c.state.Load() != stateClosed {
		w.s.runq <- c
		return
	}
	c.queued.Store(false)
	if c.pending.Load() != 0 && c.queued.CompareAndSwap(false, true) {
		w.s.runq <- c
	}
}

func (w *worker) handle(c *Conn, bits uint32) {
	w.hup = bits&pendHup != 0
	if bits&pendKill != 0 {
		w.destroy(c)
		return
	}
	if bits&pendAdopt != 0 && !w.adopted(c) {
		bits &^= pendRead
	}
	if c.state.Load() == stateHandshake {
		if bits&pendRead != 0 {
			w.readHandshake(c)
		}
	} else {
		if bits&pendClose != 0 {
			w.beginClose(c)
		}
		if bits&pendRead != 0 {
			w.read(c)
		}
	}
	if c.state.Load() != stateClosed {
		// This flush writes whatever the turn queued. A Send made during
		// the turn (the welcome, a reply to a command) asked for a write
		// with pendWrite; cleared here, it would otherwise send c round
		// the run queue once more for a turn that finds the queue empty.
		// A Send after this point sets it again.
		c.pending.And(^pendWrite)
		w.flush(c)
	}
}

// beginClose moves an open connection to closing once its close frame is
// queued: from now on data messages are ignored, and the socket is closed
// when the peer answers or the close deadline passes.
func (w *worker) beginClose(c *Conn) {
	if c.state.Load() != stateOpen {
		return
	}
	c.mu.Lock()
	if c.code == 0 {
		c.code = c.closeCode
	}
	c.mu.Unlock()
	c.deadline.Store(w.s.now() + int64(w.s.opts.CloseTimeout))
	c.state.Store(stateClosing)
}

// fail closes the connection for a protocol violation: the close frame is
// sent and the socket closed right after it, without waiting for an answer
// (RFC 6455 §7.1.7, "Fail the WebSocket Connection").
func (w *worker) fail(c *Conn, code int, reason string) {
	c.Close(code, reason)
	c.flags |= closeAfterFlush
	c.pending.And(^pendClose)
	w.beginClose(c)
}

// destroy closes the socket and tells the session. Only the worker running c
// calls it, so no other goroutine is inside a syscall on c.Fd().
func (w *worker) destroy(c *Conn) {
	if c.state.Swap(stateClosed) == stateClosed {
		return
	}
	c.mu.Lock()
	c.dead = true
	c.q.reset()
	code := int(c.code)
	c.mu.Unlock()
	_ = w.s.ep.Del(c.Fd())
	w.s.unregister(c)
	c.closeSocket()
	c.in = nil // not to the pool: a caller up the stack may still hold it
	if code == 0 {
		code = CloseAbnormal
	}
	if c.session != nil {
		c.session.Closed(code)
		c.session = nil
	}
}
