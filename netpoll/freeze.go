package netpoll

import (
	"context"
)

// Freeze pauses the transport without touching any socket, for a hand-off
// of every connection to another process (see Export, Release and Adopt):
// no worker runs a connection turn, the sweeper neither pings nor times
// anything out, and nothing is accepted (new clients wait in the kernel's
// listen backlog; the listeners stay open and registered). The epoll
// goroutine goes on recording events and queueing connections, so nothing
// is missed; only the workers wait. Conn.Send, Queue, QueueEvent, Flush and
// Close keep working from other goroutines: they only queue.
//
// Freeze returns once every turn, sweep and backlog drain in progress has
// finished. When ctx ends first it undoes itself and returns ctx.Err(). It
// returns nil at once when already frozen, and ErrServerClosed after
// Shutdown or Release began. It must not be called from a Handler or
// Session method (a turn cannot wait for itself).
func (s *Server) Freeze(ctx context.Context) error {
	s.freezeMu.Lock()
	defer s.freezeMu.Unlock()
	if s.frozen {
		return nil
	}
	s.mu.RLock()
	over := s.shutting || s.released
	s.mu.RUnlock()
	if over {
		return ErrServerClosed
	}
	if err := s.lockGate(ctx); err != nil {
		return err
	}
	s.frozen, s.frozeAt = true, s.now()
	return nil
}

// lockGate takes the gate for writing, or gives up when ctx ends. A
// pending writer already holds new readers back, so waiting here pauses the
// workers whether or not the freeze succeeds; given up, the lock is
// released as soon as it is obtained, by the goroutine that waits for it
// (which lives only until the turns under way end).
func (s *Server) lockGate(ctx context.Context) error {
	acquired := make(chan struct{})
	abandon := make(chan struct{})
	go func() {
		s.gate.Lock()
		select {
		case acquired <- struct{}{}:
		case <-abandon:
			s.gate.Unlock()
		}
	}()
	select {
	case <-acquired:
		return nil
	case <-ctx.Done():
		close(abandon)
		return ctx.Err()
	}
}

// Resume ends a freeze: everything continues where it stopped, and nothing
// was lost (events seen meanwhile wait on the run queue, and clients in
// the backlog are accepted). The heartbeat schedule and the message,
// handshake and closing deadlines are moved on by the length of the
// freeze, so that the pause counts against no client. A no-op when not frozen.
func (s *Server) Resume() {
	s.freezeMu.Lock()
	defer s.freezeMu.Unlock()
	if !s.frozen {
		return
	}
	s.shiftClocks(s.now() - s.frozeAt)
	s.frozen = false
	s.gate.Unlock()
}

// shiftClocks moves the running deadlines of every connection on by d.
// Called under the gate: no worker or sweep runs, so nothing else writes
// these clocks.
func (s *Server) shiftClocks(d int64) {
	if d <= 0 {
		return
	}
	s.each(func(c *Conn) {
		if v := c.ping.Load(); v != 0 {
			c.ping.Store(v + d<<1) // the time moves on, the kind stays (pingDue); keeps the jittered spread
		}
		if v := c.msgStart.Load(); v != 0 {
			c.msgStart.Store(v + d)
		}
		if v := c.deadline.Load(); v != 0 {
			c.deadline.Store(v + d)
		}
	})
}

// Release ends this transport after a committed hand-off: another process
// now holds every exported connection's socket. Every connection is taken
// out of the epoll set and its descriptor closed without shutdown() and
// without a close frame, so nothing goes on the wire (the other process
// holds the same socket; closing one copy of a descriptor sends nothing);
// no Session.Closed is called. Connections that were closing (never
// exported) are closed as well, which for them is the last copy: their
// clients see a FIN. Then the accept loops, sweeper, workers and epoll
// goroutine stop, and Serve returns ErrServerClosed. The listeners are not
// closed (the caller owns them, and has passed them on), nor are the
// connections already handed to net/http; the HTTP listener (HTTPListener)
// is closed. Serve on a listener that is not a *net.TCPListener blocks in
// its Accept until the caller closes it, and closes (with a FIN) a
// connection accepted meanwhile: close such listeners right after Release.
// Frames queued after Export are dropped with the connections: the caller
// stops sending before it exports.
//
// Release freezes first when not frozen. Later calls are no-ops, and so is
// Shutdown after it (it returns nil). Release does nothing once Shutdown
// began.
func (s *Server) Release() {
	s.freezeMu.Lock()
	defer s.freezeMu.Unlock()
	s.mu.Lock()
	over := s.shutting || s.released
	if !over {
		s.shutting, s.released = true, true
	}
	s.mu.Unlock()
	if over {
		return
	}
	if !s.frozen {
		_ = s.lockGate(context.Background())
		s.frozen = true
	}
	s.stopAcceptingKeepListeners()
	var conns []*Conn
	s.each(func(c *Conn) { conns = append(conns, c) })
	for _, c := range conns {
		s.letGo(c)
	}
	s.frozen = false
	s.gate.Unlock() // blocked turns find their connections closed
	// Raw accept loops return now without accepting (they check for the
	// stop under the gate). A loop blocked in a listener's Accept cannot
	// be stopped without closing the listener, which is not ours to
	// close: it returns when its owner closes it (see Serve).
	s.rawWG.Wait()
	if s.httpLn != nil {
		s.httpLn.shut()
	}
	s.stopLoops()
}

// stopAcceptingKeepListeners makes the accept loops return without
// closing their listeners; they return once the gate is open.
func (s *Server) stopAcceptingKeepListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		close(s.quitAccept)
	}
}

// letGo drops c without a word to the peer or the session: the socket
// lives on in the process that adopted it. Called under the gate, so no
// worker runs c; a turn that waits for the gate with c finds it closed.
// The epoll registration is removed before the close: the registration
// belongs to the open file description, which the other process keeps
// alive, so a close alone would leave this epoll set reporting its events.
func (s *Server) letGo(c *Conn) {
	_ = s.ep.Del(c.Fd())
	s.abandon(c)
	c.in, c.session = nil, nil
}
