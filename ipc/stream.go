package ipc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// POST /v1/publish/stream is the persistent publish stream: one HTTP/1.1
// request whose body is NDJSON, one event per line, for as long as the
// publisher likes, answered by a 200 whose body carries one acknowledgement
// line per non-blank input line, in input order. Both bodies are chunked and
// flow at once (full duplex), so a publisher pipelines: it writes events
// without waiting and matches acks by their "index", the 0-based count of
// non-blank lines, as in an NDJSON /v1/publish body.
//
// Each line is its own publish: a bad line gets an error ack and the stream
// goes on. Validation, idempotency keys and positions are /v1/publish's:
//
//	{"index":0,"channel":"c","offset":42,"epoch":"e"}
//	{"index":1,"channel":"c","offset":42,"epoch":"e","duplicate":true}
//	{"index":2,"status":400,"error":"missing \"type\""}
//	{"index":3,"status":413,"error":"line longer than 1048576 bytes"}
//	{"index":4,"status":503,"error":"broker unavailable"}
//	{"index":5,"status":504,"error":"…","outcome":"unknown"}
//
// The server reads whatever lines have arrived (up to streamBatch), decodes
// them with the lean decoder, publishes the valid ones with one
// PublishBatch call and writes their acks; it flushes when no more input is
// buffered, so a fast publisher gets one write of many acks and a slow one
// gets each ack at once. Backpressure is the socket's: the server reads no
// faster than it publishes. The stream ends when the publisher ends its
// body (every line is acked first) or the daemon shuts down (lines already
// read are acked, then the answer ends; the publisher resends the rest).

// streamBatch caps the lines published as one PublishBatch call, so acks
// keep flowing while a fast publisher fills the buffer.
const streamBatch = 256

// streamReadBuffer is the stream's input buffer; a line longer than it is
// assembled in the chunk buffer, up to the body limit.
const streamReadBuffer = 64 << 10

// streamAck is one line's outcome: a position, or a status and an error.
type streamAck struct {
	status int // 0: published
	err    string
	pos    Position
}

// streamState is one stream's buffers, reused for every batch.
type streamState struct {
	st     *publishState
	chunk  []byte      // the batch's lines, each ending in '\n'
	long   []int       // relative indexes of lines over the limit in this batch
	acks   []streamAck // one per non-blank line of the batch
	order  []int       // events of the batch that passed CheckEvent, by event number
	out    []byte
	lines  int // non-blank lines before this batch: the base of its indexes
	events []event
}

func (a *api) publishStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// HTTP/2 is full duplex already and says so with an error here.
	_ = rc.EnableFullDuplex()
	// The server's read and write timeouts bound one request; a stream
	// lives as long as its publisher, so they are lifted for it.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	stop := a.stopOnShutdown(r.Context(), rc)
	defer stop()

	h := w.Header()
	h["Content-Type"] = ndjsonContentType
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	ss := &streamState{st: a.states.Get().(*publishState)}
	defer func() {
		ss.st.trim()
		a.states.Put(ss.st)
	}()
	br := bufio.NewReaderSize(r.Body, streamReadBuffer)
	for {
		err := a.readBatch(ss, br)
		if len(ss.acks) > 0 {
			a.publishLines(r.Context(), ss)
			if _, werr := w.Write(ss.out); werr != nil {
				return
			}
		}
		if err != nil || !lineBuffered(br) {
			if ferr := rc.Flush(); ferr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				a.log.Debug("publish stream ended", zap.Error(err))
			}
			return
		}
	}
}

// stopOnShutdown ends a stream's reads when the server shuts down: the
// blocked read fails, the lines read so far are acked, and the handler
// returns so Shutdown can finish. Servers not made by NewHTTPServer carry
// no shutdown signal; their streams end with their publishers.
func (a *api) stopOnShutdown(ctx context.Context, rc *http.ResponseController) (stop func()) {
	shutdown, _ := ctx.Value(shutdownKey{}).(<-chan struct{})
	if shutdown == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-shutdown:
			_ = rc.SetReadDeadline(time.Now())
		case <-done:
		case <-ctx.Done():
		}
	}()
	return func() { close(done) }
}

// readBatch reads at least one line (blocking), then whatever further
// complete lines are already buffered, up to streamBatch non-blank ones.
// The error is the read's (io.EOF at the end of the body); the lines read
// before it are in ss.chunk.
func (a *api) readBatch(ss *streamState, br *bufio.Reader) error {
	ss.chunk, ss.long, ss.acks = ss.chunk[:0], ss.long[:0], ss.acks[:0]
	for len(ss.acks) < streamBatch {
		start := len(ss.chunk)
		var tooLong bool
		var err error
		ss.chunk, tooLong, err = readStreamLine(br, ss.chunk, lineCap(a.limit))
		switch {
		case tooLong:
			ss.long = append(ss.long, len(ss.acks))
			ss.acks = append(ss.acks, streamAck{status: http.StatusRequestEntityTooLarge,
				err: "line longer than " + strconv.FormatInt(a.limit, 10) + " bytes"})
		case isBlank(ss.chunk[start:]):
			ss.chunk = ss.chunk[:start]
		default:
			ss.acks = append(ss.acks, streamAck{})
			ss.chunk = append(ss.chunk, '\n')
		}
		if err != nil {
			return err
		}
		if !lineBuffered(br) {
			return nil
		}
	}
	return nil
}

// lineBuffered reports whether a whole line is already in br's buffer, so
// reading it will not block.
func lineBuffered(br *bufio.Reader) bool {
	n := br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// readStreamLine appends the next line, without its newline, to buf. A line
// longer than max is skipped to its end and reported as tooLong, with buf
// unchanged, so one bad line costs only its ack.
func readStreamLine(br *bufio.Reader, buf []byte, max int) ([]byte, bool, error) {
	start := len(buf)
	tooLong := false
	for {
		frag, err := br.ReadSlice('\n')
		n := len(frag)
		if err == nil {
			n--
		}
		if !tooLong && n > max-(len(buf)-start) {
			tooLong = true
			buf = buf[:start]
		}
		if !tooLong {
			buf = append(buf, frag[:n]...)
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(buf) > start {
				err = nil // a last line without newline; EOF comes on the next read
			}
			return buf, tooLong, err
		}
	}
}

// publishLines decodes the batch's lines, checks and publishes the valid
// events, and writes one ack per line into ss.out.
func (a *api) publishLines(ctx context.Context, ss *streamState) {
	ss.decode(a.limit)
	b := ss.st.batch()
	ss.order = ss.order[:0]
	for i := range b.events {
		e := &b.events[i]
		if err := a.pub.CheckEvent(e.channel, e.typ, b.payload(e)); err != nil {
			ss.acks[e.index] = streamAck{status: http.StatusBadRequest, err: err.Error()}
			continue
		}
		ss.order = append(ss.order, i)
	}
	a.publishOrdered(ctx, ss)
	ss.out = ss.out[:0]
	for i := range ss.acks {
		ss.out = appendStreamAck(ss.out, ss.lines+i, &ss.acks[i])
	}
	ss.lines += len(ss.acks)
}

// decode fills ss.st's batch from ss.chunk; event and problem indexes are
// relative to the batch, counting the over-long lines, which are not in
// the chunk.
func (ss *streamState) decode(limit int64) {
	st := ss.st
	st.reset(lineCap(limit))
	if !st.d.decodeLean(ss.chunk, true) {
		ss.decodeEachLine(limit)
	}
	b := st.batch()
	for i := range b.events {
		b.events[i].index = ss.relative(b.events[i].index)
	}
	for _, p := range b.problems {
		ss.acks[ss.relative(p.Index)] = streamAck{status: http.StatusBadRequest, err: p.Reason}
	}
}

// relative maps a line's index in the chunk to its index in the batch.
func (ss *streamState) relative(i int) int {
	for _, l := range ss.long {
		if l <= i {
			i++
		}
	}
	return i
}

// decodeEachLine is the slow path for a chunk the lean decoder declined:
// each line is decoded on its own with decodeBody, so one malformed line
// is an error for that line only, worded as /v1/publish words it.
func (ss *streamState) decodeEachLine(limit int64) {
	b := ss.st.batch()
	// Drop what the lean decoder got before it gave up.
	b.arena, b.events, b.problems = nil, b.events[:0], b.problems[:0]
	n := 0
	for line := range bytes.SplitSeq(ss.chunk, []byte{'\n'}) {
		if isBlank(line) {
			continue
		}
		one, err := decodeBody(bytes.NewReader(line), true, limit)
		var me *malformedError
		switch {
		case errors.As(err, &me):
			b.problems = append(b.problems, InvalidEvent{Index: n, Reason: "malformed JSON: " + me.detail})
		case err != nil:
			b.problems = append(b.problems, InvalidEvent{Index: n, Reason: err.Error()})
		case len(one.problems) > 0:
			b.problems = append(b.problems, InvalidEvent{Index: n, Reason: one.problems[0].Reason})
		default:
			e := one.events[0]
			p := one.payload(&e)
			e.index, e.off = n, len(b.arena)
			b.arena = append(b.arena, p...)
			e.end = len(b.arena)
			b.events = append(b.events, e)
		}
		n++
	}
}

// publishOrdered publishes the checked events in order. A failure is the
// failing event's ack; publishing goes on with the next, since every line
// is its own publish.
func (a *api) publishOrdered(ctx context.Context, ss *streamState) {
	st := ss.st
	b := st.batch()
	ss.events = ss.events[:0]
	for _, i := range ss.order {
		ss.events = append(ss.events, b.events[i])
	}
	b.events = append(b.events[:0], ss.events...)
	for len(b.events) > 0 {
		if cap(st.positions) < len(b.events) {
			st.positions = make([]Position, len(b.events))
		}
		st.positions = st.positions[:len(b.events)]
		n, err := a.pub.PublishBatch(ctx, len(b.events), st.eventFn, st.doneFn)
		for i := range n {
			ss.acks[b.events[i].index] = streamAck{pos: st.positions[i]}
		}
		if err == nil {
			return
		}
		status := publishStatus(err)
		if status != http.StatusBadRequest {
			a.log.Warn("stream publish failed", zap.Error(err), zap.Int("status", status))
		}
		ss.acks[b.events[n].index] = streamAck{status: status, err: err.Error()}
		b.events = b.events[n+1:]
	}
}

// appendStreamAck appends one ack line.
func appendStreamAck(dst []byte, index int, ack *streamAck) []byte {
	dst = append(dst, `{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	if ack.status != 0 {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendInt(dst, int64(ack.status), 10)
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, ack.err)
		if ack.status == http.StatusGatewayTimeout {
			dst = append(dst, `,"outcome":"unknown"`...) // as /v1/publish's 504
		}
		return append(dst, "}\n"...)
	}
	dst = append(dst, ',')
	return append(appendPositionFields(dst, &ack.pos), "}\n"...)
}

// shutdownKey carries, in a request's context, a channel closed when the
// server begins to shut down (see NewHTTPServer).
type shutdownKey struct{}
