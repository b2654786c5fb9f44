package sse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/netpoll"
)

// writeTimeout bounds one write to an SSE client: a client that takes no
// bytes for this long is gone.
const writeTimeout = 10 * time.Second

// stream is one SSE client as the core's Transport: the core queues
// framed messages from any goroutine, and the stream's own goroutine (the
// HTTP handler's, in run) writes them as events. The queue is a
// netpoll.FrameQueue, so slow-consumer policies are the WebSocket ones.
type stream struct {
	w     *bufio.Writer
	rc    *http.ResponseController
	bound int // limits.write_queue_bytes
	wake  chan struct{}

	mu        sync.Mutex // guards q, closeCode and reason; never held while writing to the client
	q         netpoll.FrameQueue
	closeCode int // set once by Close: the stream ends after what is queued
	reason    string

	// Written by run only.
	pos   positions
	batch [][]byte
	line  []byte
}

var _ daemon.Transport = (*stream)(nil)

func newStream(w http.ResponseWriter, bound int) *stream {
	return &stream{
		w:     bufio.NewWriterSize(w, 4096),
		rc:    http.NewResponseController(w),
		bound: bound,
		wake:  make(chan struct{}, 1),
	}
}

// Send implements daemon.Transport.
func (st *stream) Send(msg []byte) bool {
	ok, _ := st.Queue(msg)
	st.Flush()
	return ok
}

// Queue implements daemon.Transport.
func (st *stream) Queue(msg []byte) (ok, first bool) {
	ok, first, _ = st.QueueEventAt(msg, 0, netpoll.PolicyDisconnect, 0)
	return ok, first
}

// QueueEventAt implements daemon.Transport. A frame that does not fit under
// the channel's policy closes the stream as slow (4001), dropping what is
// queued: the client recovers it from history on reconnect. The publish
// time is not used.
func (st *stream) QueueEventAt(msg []byte, key uint64, policy int, _ int64) (ok, first bool, dropped int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closeCode != 0 {
		return false, false, 0
	}
	first = st.q.Len() == 0
	ok, dropped = st.q.Add(msg, key, policy, st.bound)
	if !ok {
		st.q.Take(nil)
		st.closeCode, st.reason = netpoll.CloseSlowConsumer, "slow consumer"
		st.Flush()
		return false, false, 0
	}
	return true, first, dropped
}

// Flush implements daemon.Transport: it wakes the writer.
func (st *stream) Flush() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// Close implements daemon.Transport: the stream ends after what is queued,
// with a close event carrying code.
func (st *stream) Close(code int, reason string) {
	st.mu.Lock()
	if st.closeCode == 0 {
		st.closeCode, st.reason = code, reason
	}
	st.mu.Unlock()
	st.Flush()
}

// run writes queued messages and heartbeats until the stream is closed or
// the client goes away, and returns the close code (1006 for a client
// that vanished or stopped reading).
func (st *stream) run(ctx context.Context, heartbeat time.Duration) int {
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return netpoll.CloseAbnormal
		case <-tick.C:
			if st.write([]byte(":\n\n")) != nil {
				return netpoll.CloseAbnormal
			}
		case <-st.wake:
			if code, err := st.drain(); err != nil || code != 0 {
				if err != nil {
					return netpoll.CloseAbnormal
				}
				return code
			}
		}
	}
}

// drain writes what is queued and, once the stream was closed, the close
// event; it returns the close code then, 0 while the stream goes on.
func (st *stream) drain() (int, error) {
	st.mu.Lock()
	st.batch = st.q.Take(st.batch[:0])
	code, reason := st.closeCode, st.reason
	st.mu.Unlock()
	for i, f := range st.batch {
		st.appendEvent(f)
		st.batch[i] = nil
	}
	if code != 0 {
		st.appendClose(code, reason)
	}
	err := st.write(nil)
	return code, err
}

// write sends the pending lines plus extra, under a deadline.
func (st *stream) write(extra []byte) error {
	st.line = append(st.line, extra...)
	_ = st.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := st.w.Write(st.line)
	st.line = st.line[:0]
	if err == nil {
		err = st.w.Flush()
	}
	if err == nil {
		err = st.rc.Flush()
	}
	return err
}

// head is what the stream reads of a message: its type, and the
// position it carries.
type head struct {
	Type      string  `json:"type"`
	Channel   string  `json:"channel"`
	Offset    *uint64 `json:"offset"`
	Epoch     string  `json:"epoch"`
	Recovered *bool   `json:"recovered"`
}

// appendEvent turns one framed message into an SSE event: id (when the
// positions changed), event (the type) and data (the message's JSON).
func (st *stream) appendEvent(frame []byte) {
	p := netpoll.Payload(frame)
	var h head
	if p == nil || json.Unmarshal(p, &h) != nil || h.Type == "" {
		return
	}
	if st.track(h) {
		st.line = append(st.line, "id: "...)
		st.line = append(st.pos.appendID(st.line), '\n')
	}
	st.line = append(st.line, "event: "...)
	st.line = append(st.line, h.Type...)
	st.line = append(st.line, '\n')
	st.appendData(p)
}

// track updates the positions from a message and reports a change. A
// recovered subscribed reply leaves the position where the client was: the
// replay that follows moves it.
func (st *stream) track(h head) bool {
	switch {
	case h.Type == "unsubscribed":
		return st.pos.remove(h.Channel)
	case h.Channel == "" || h.Offset == nil || h.Epoch == "":
		return false
	case h.Type == "subscribed" && h.Recovered != nil && *h.Recovered:
		return false
	}
	return st.pos.set(h.Channel, daemon.Position{Offset: *h.Offset, Epoch: h.Epoch})
}

// appendData writes p as data lines: a payload may hold line breaks (JSON
// white space), which SSE would take for the end of the field; the client
// joins data lines with "\n", which is white space too.
func (st *stream) appendData(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			i = len(p)
		}
		st.line = append(st.line, "data: "...)
		st.line = append(st.line, p[:i]...)
		st.line = append(st.line, '\n')
		p = p[min(i+1, len(p)):]
	}
	st.line = append(st.line, '\n')
}

// appendClose is the last event of a stream: the close code a WebSocket
// client would have got.
func (st *stream) appendClose(code int, reason string) {
	b, _ := json.Marshal(reason)
	st.line = append(st.line, "event: close\ndata: {\"type\":\"close\",\"code\":"...)
	st.line = strconv.AppendInt(st.line, int64(code), 10)
	st.line = append(st.line, ",\"reason\":"...)
	st.line = append(st.line, b...)
	st.line = append(st.line, "}\n\n"...)
}
