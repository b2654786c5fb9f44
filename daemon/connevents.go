package daemon

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// connEvents is the node's log of connection events (connect, disconnect,
// subscribe, unsubscribe) for the local app: a bounded ring of events, each
// with a sequence number, and the streams following it. Appends happen on
// connects and subscribes, not on the publish path.
//
// The ring keeps each event as a small fixed record (connLine) whose
// strings are the session's id and subject and the channel's name, shared
// with the live session and channel, and encodes the NDJSON line when a
// stream reads it: a ring of 10,000 encoded lines (~240 bytes each) cost
// 2.4 MB, more than a tenth of a held connection's heap at 9,000.
type connEvents struct {
	mu    sync.Mutex
	lines []connLine // ring of the last len(lines) events
	next  uint64     // sequence number of the next event; the first is 1
	first uint64     // the oldest sequence number ever kept (1, or where an import began)
	epoch string     // changes with every Node: a restart is visible
	// changed is closed at the next event when a stream waits on it
	// (waited); with no stream following, events allocate no channel.
	changed chan struct{}
	waited  bool
	closed  bool
}

func newConnEvents(size int, epoch string) *connEvents {
	return &connEvents{lines: make([]connLine, size), next: 1, first: 1, epoch: epoch, changed: make(chan struct{})}
}

// connEvent is one event before it is recorded.
type connEvent struct {
	typ                 uint8 // connConnect, connDisconnect, connSubscribe or connUnsubscribe
	conn, user, channel string
	code                int
}

// connLine is one recorded event: what its line says but the sequence
// number and the epoch, which are the ring's (restore, the only change
// of epoch, empties the ring). A line imported from a predecessor
// (restore) is kept as it was, in channel, with typ connRaw.
type connLine struct {
	at                  int64 // UnixNano
	conn, user, channel string
	code                int32
	typ                 uint8
}

// The event types of connLine.typ.
const (
	connRaw uint8 = iota // an imported line, in channel, without its "\n"
	connConnect
	connDisconnect
	connSubscribe
	connUnsubscribe
)

// connTypes are the types' names in a line.
var connTypes = [...]string{connConnect: "connect", connDisconnect: "disconnect", connSubscribe: "subscribe", connUnsubscribe: "unsubscribe"}

// add numbers and records e, and wakes the streams.
func (c *connEvents) add(e connEvent, now time.Time) {
	l := connLine{at: now.UnixNano(), conn: e.conn, user: e.user, channel: e.channel, code: int32(e.code), typ: e.typ}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines[c.next%uint64(len(c.lines))] = l
	c.next++
	if c.waited {
		close(c.changed)
		c.changed, c.waited = make(chan struct{}), false
	}
}

// appendLine appends event seq's NDJSON line, "\n" included, to b.
func (l *connLine) appendLine(b []byte, seq uint64, epoch string) []byte {
	if l.typ == connRaw {
		b = append(b, l.channel...)
		return append(b, '\n')
	}
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"epoch":"`...)
	b = append(b, epoch...)
	b = append(b, `","time":"`...)
	b = time.Unix(0, l.at).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":"`...)
	b = append(b, connTypes[l.typ]...)
	b = append(b, `","connection_id":"`...)
	b = append(b, l.conn...)
	b = append(b, `","user":`...)
	b = strconv.AppendQuote(b, l.user) // sub is the token's: quote it
	if l.channel != "" {
		b = append(b, `,"channel":"`...)
		b = append(b, l.channel...)
		b = append(b, '"')
	}
	if l.typ == connDisconnect {
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(l.code), 10)
	}
	return append(b, "}\n"...)
}

// read returns the events after seq that are still kept, the first of
// them numbered from, and whether none was lost: false when seq is older
// than the ring or from another epoch. The caller encodes them
// (appendLine) with the epoch returned, outside the lock.
func (c *connEvents) read(after uint64, epoch string, buf []connLine) (out []connLine, from, next uint64, ringEpoch string, complete bool, wait <-chan struct{}, closed bool) {
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
	c.waited = true
	return buf, after + 1, c.next - 1, c.epoch, complete, c.changed, c.closed
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
		c.changed, c.waited = make(chan struct{}), false
	}
}

// StreamConnEvents writes the connection events after position (after,
// epoch) to write, one NDJSON line each, then follows new ones until ctx
// ends or the node's streams are closed (CloseConnEvents). When events
// after the position are no longer kept, or epoch is another node's (the
// daemon restarted), it first writes a line {"type":"reset",…} and then
// everything it still has: the app must resynchronise (for example from
// GET /v1/channels). A slow reader cannot hold the node up: it falls behind
// the ring and gets a reset. The line passed to write is only valid until
// write returns: its buffer is reused.
func (n *Node) StreamConnEvents(ctx context.Context, after uint64, epoch string, write func(line []byte) error) error {
	ev := n.connEvents
	var buf []connLine
	var line []byte
	first := true
	for {
		lines, from, last, ringEpoch, complete, wait, closed := ev.read(after, epoch, buf[:0])
		if !complete && (!first || after != 0 || epoch != "") {
			if err := write(resetLine(ringEpoch, after)); err != nil {
				return err
			}
		}
		first = false
		for i := range lines {
			line = lines[i].appendLine(line[:0], from+uint64(i), ringEpoch)
			if err := write(line); err != nil {
				return err
			}
		}
		clear(lines)
		buf = lines
		after, epoch = last, ringEpoch
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
