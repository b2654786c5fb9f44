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
// the peer count as an answer: a client busy sending is alive.
//
// One clock, Conn.ping, holds the schedule (see pingDue). When bytes
// arrive while a ping is unanswered, the read path marks it answered: the
// next ping is then due PingInterval after this one was sent. Only this
// goroutine turns a due time into a sent one, and only the worker reading
// c turns it back, each after seeing the other kind, so neither store can
// undo the other's; bytes read before the ping was recorded do not answer
// it.
func (s *Server) heartbeat(c *Conn, now int64) {
	v := c.ping.Load()
	if v&1 != 0 { // unanswered since v>>1
		if now-(v>>1) > int64(s.opts.PongTimeout) {
			s.stats.heartbeatTimed.Add(1)
			c.Close(CloseHeartbeat, "heartbeat timeout")
		}
		return
	}
	if now >= v>>1 {
		c.ping.Store(pingSent(now))
		c.Send(pingFrame)
	}
}

// pingDue and pingSent encode Conn.ping, which holds one of two times that
// are never needed at once: when the next ping is due, or, while a ping is
// unanswered, when it was sent. The low bit tells them apart; v>>1 is the
// time (Server.now() nanoseconds).
func pingDue(t int64) int64 { return t << 1 }

func pingSent(t int64) int64 { return t<<1 | 1 }

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
