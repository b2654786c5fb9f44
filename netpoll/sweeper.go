package netpoll

import (
	"math/rand/v2"
	"time"
)

// sweep is the one goroutine that keeps time for every connection: heartbeat
// pings and their timeouts, the handshake deadline, the deadline of a
// message still arriving, and the closing deadline; it also lets idle write
// queues give back their arrays. One pass costs a few atomic loads and a
// try-lock per connection.
func (s *Server) sweep() {
	t := time.NewTicker(s.opts.sweepEvery())
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// While frozen nothing is timed: the sweep is skipped, not
			// queued behind the freeze (Resume shifts the clocks).
			if s.gate.TryRLock() {
				s.sweepOnce(s.now())
				s.gate.RUnlock()
			}
		}
	}
}

func (s *Server) sweepOnce(now int64) {
	s.each(func(c *Conn) {
		switch c.state.Load() {
		case stateHandshake:
			// 0 is no deadline: the connection was upgraded after the
			// state was read (a kill here once closed fresh connections).
			if d := c.deadline.Load(); d != 0 && now > d {
				s.stats.handshakeTimed.Add(1)
				c.schedule(pendKill)
			}
		case stateOpen:
			s.heartbeat(c, now)
			s.messageDeadline(c, now)
			s.trimQueue(c)
		case stateClosing:
			if d := c.deadline.Load(); d != 0 && now > d {
				c.schedule(pendKill)
			}
		}
	})
}

// heartbeat pings a connection when its turn comes and closes it when it
// has sent nothing since a ping older than the pong timeout. Any bytes from
// the peer count as an answer: a client busy sending is alive. The read
// path clears pingSent when bytes arrive, instead of keeping a time of the
// last read to compare with (8 bytes in every Conn, and a clock read per
// read). Only this goroutine sets pingSent, only when it is 0, and only
// the worker reading c clears it, so a clear never erases a newer ping;
// bytes read before the ping was recorded do not answer it.
func (s *Server) heartbeat(c *Conn, now int64) {
	sent := c.pingSent.Load()
	if sent != 0 {
		if now-sent > int64(s.opts.PongTimeout) {
			s.stats.heartbeatTimed.Add(1)
			c.Close(CloseHeartbeat, "heartbeat timeout")
		}
		return
	}
	if now >= c.nextPing.Load() {
		c.pingSent.Store(now)
		c.nextPing.Store(now + int64(s.opts.PingInterval))
		c.Send(pingFrame)
	}
}

// messageDeadline closes a connection whose inbound message (a frame still
// arriving, or a fragmented message without its last frame) began more
// than Options.MessageTimeout ago. The swap makes one timeout close and
// count once.
func (s *Server) messageDeadline(c *Conn, now int64) {
	began := c.msgStart.Load()
	if began == 0 || now-began <= int64(s.lim().MessageTimeout) || !c.msgStart.CompareAndSwap(began, 0) {
		return
	}
	s.stats.messageTimed.Add(1)
	c.Close(ClosePolicyViolation, "message not completed in time")
}

// trimQueue lets the write queue of a connection that was not written for
// a whole pass give back its entry array (see writeQueue.trim). A queue
// whose lock is taken is in use, not idle: it is passed over, not waited
// for.
func (s *Server) trimQueue(c *Conn) {
	if c.mu.TryLock() {
		c.q.trim()
		c.mu.Unlock()
	}
}

// jitter spreads first pings uniformly over one interval, so connections
// accepted together are not pinged together forever after.
func jitter(interval int64) int64 {
	if interval <= 0 {
		return 0
	}
	return 1 + rand.Int64N(interval)
}
