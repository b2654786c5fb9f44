package daemon

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// connEvents is the node's log of connection events (connect, disconnect,
// subscribe, unsubscribe) for the local app: a bounded ring of encoded
// NDJSON lines, each with a sequence number, and the streams following it.
// Appends happen on connects and subscribes, not on the publish path.
type connEvents struct {
	mu      sync.Mutex
	lines   [][]byte // ring of the last len(lines) events
	next    uint64   // sequence number of the next event; the first is 1
	first   uint64   // the oldest sequence number ever kept (1, or where an import began)
	epoch   string   // changes with every Node: a restart is visible
	changed chan struct{}
	closed  bool
}

func newConnEvents(size int, epoch string) *connEvents {
	return &connEvents{lines: make([][]byte, size), next: 1, first: 1, epoch: epoch, changed: make(chan struct{})}
}

// connEvent is one event before encoding.
type connEvent struct {
	typ, conn, user, channel string
	code                     int
}

// add numbers and records e, and wakes the streams.
func (c *connEvents) add(e connEvent, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := c.next
	c.next++
	b := make([]byte, 0, 160)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"epoch":"`...)
	b = append(b, c.epoch...)
	b = append(b, `","time":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":"`...)
	b = append(b, e.typ...)
	b = append(b, `","connection_id":"`...)
	b = append(b, e.conn...)
	b = append(b, `","user":`...)
	b = strconv.AppendQuote(b, e.user) // sub is the token's: quote it
	if e.channel != "" {
		b = append(b, `,"channel":"`...)
		b = append(b, e.channel...)
		b = append(b, '"')
	}
	if e.typ == "disconnect" {
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(e.code), 10)
	}
	b = append(b, "}\n"...)
	c.lines[seq%uint64(len(c.lines))] = b
	close(c.changed)
	c.changed = make(chan struct{})
}

// read returns the lines after seq that are still kept, and whether none
// was lost: false when seq is older than the ring or from another epoch.
func (c *connEvents) read(after uint64, epoch string, buf [][]byte) (out [][]byte, next uint64, complete bool, wait <-chan struct{}, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	oldest := c.oldest()
	complete = epoch == c.epoch && after+1 >= oldest && after < c.next
	if !complete {
		after = oldest - 1
	}
	for seq := after + 1; seq < c.next; seq++ {
		buf = append(buf, c.lines[seq%uint64(len(c.lines))])
	}
	return buf, c.next - 1, complete, c.changed, c.closed
}

// oldest is the sequence number of the oldest line kept. Called with mu
// held.
func (c *connEvents) oldest() uint64 {
	if c.next > uint64(len(c.lines)) {
		return max(c.first, c.next-uint64(len(c.lines)))
	}
	return c.first
}

// reopen lets streams follow the log again after close.
func (c *connEvents) reopen() {
	c.mu.Lock()
	c.closed = false
	c.mu.Unlock()
}

// close ends every stream (at shutdown).
func (c *connEvents) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.changed)
		c.changed = make(chan struct{})
	}
}

// StreamConnEvents writes the connection events after position (after,
// epoch) to write, one NDJSON line each, then follows new ones until ctx
// ends or the node's streams are closed (CloseConnEvents). When events
// after the position are no longer kept, or epoch is another node's (the
// daemon restarted), it first writes a line {"type":"reset",…} and then
// everything it still has: the app must resynchronise (for example from
// GET /v1/channels). A slow reader cannot hold the node up: it falls behind
// the ring and gets a reset.
func (n *Node) StreamConnEvents(ctx context.Context, after uint64, epoch string, write func(line []byte) error) error {
	ev := n.connEvents
	var buf [][]byte
	first := true
	for {
		lines, last, complete, wait, closed := ev.read(after, epoch, buf[:0])
		if !complete && (!first || after != 0 || epoch != "") {
			if err := write(resetLine(ev.epoch, after)); err != nil {
				return err
			}
		}
		first = false
		for _, l := range lines {
			if err := write(l); err != nil {
				return err
			}
		}
		clear(lines)
		buf = lines
		after, epoch = last, ev.epoch
		if closed {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
	}
}

func resetLine(epoch string, after uint64) []byte {
	b := []byte(`{"type":"reset","epoch":"`)
	b = append(b, epoch...)
	b = append(b, `","after":`...)
	b = strconv.AppendUint(b, after, 10)
	return append(b, "}\n"...)
}

// CloseConnEvents ends every StreamConnEvents call, so that a graceful
// shutdown of the API does not wait for its streams.
func (n *Node) CloseConnEvents() { n.connEvents.close() }

// ReopenConnEvents undoes CloseConnEvents: a hand-off that failed ended
// the streams (their readers come back, where they left off) and serves
// on.
func (n *Node) ReopenConnEvents() { n.connEvents.reopen() }

// logConn records e unless it is about an internal session.
func (n *Node) logConn(s *Session, e connEvent) {
	if s.internal {
		return
	}
	e.conn, e.user = s.id, s.subject
	n.connEvents.add(e, n.opts.Now())
}
