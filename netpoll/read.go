package netpoll

import (
	"errors"
	"syscall"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// read takes what the socket has, up to the read budget, and dispatches every
// complete frame. Complete frames are parsed in place in the worker's buffer;
// a frame still arriving moves to a buffer of its own (inbound.part), which later
// reads fill in place, growing it by doubling up to the size the header
// declares: the cost of a frame is linear in its bytes however they are cut,
// the memory a partial frame holds is at most twice what the peer sent (a
// header declaring 64 KiB does not buy 64 KiB of heap for 14 bytes), and
// nothing here waits for bytes that have not arrived.
func (w *worker) read(c *Conn) {
	budget := w.s.opts.ReadBudget
	for {
		n, asked, err := w.readSome(c)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			w.s.stats.emptyReads.Add(1)
			break
		}
		if err != nil || n == 0 {
			w.destroy(c) // reset or EOF: nothing more can be said to this peer
			return
		}
		if v := c.ping.Load(); v&1 != 0 { // any bytes answer the ping (see Server.heartbeat)
			c.ping.Store(pingDue(v>>1 + int64(w.s.opts.PingInterval)))
		}
		budget -= n
		if !w.consume(c, n) || c.state.Load() == stateClosed {
			return
		}
		if budget <= 0 {
			c.pending.Or(pendRead) // more may be waiting: come back after the others
			break
		}
		if n < asked && !w.hup {
			// A short read drained the socket: the next bytes raise a new
			// edge-triggered EPOLLIN, so reading on would only find EAGAIN.
			// A FIN that came with the data raised EPOLLRDHUP (w.hup), and
			// then the loop reads on to the EOF.
			break
		}
	}
	w.trackMessage(c)
}

// readSome reads into the partial frame's own buffer when its header is
// known (never past that frame), else into the worker's buffer behind the
// few header bytes carried over.
// It returns how many bytes it asked for too.
func (w *worker) readSome(c *Conn) (n, asked int, err error) {
	in := c.in
	if in != nil && in.partHN > 0 {
		if len(in.part) == cap(in.part) {
			nb := make([]byte, len(in.part), min(in.partLen, 2*cap(in.part)))
			copy(nb, in.part)
			in.part = nb
		}
		n, err = syscall.Read(c.Fd(), in.part[len(in.part):cap(in.part)])
		return n, cap(in.part) - len(in.part), err
	}
	k := 0
	if in != nil {
		k = copy(w.buf, in.part)
	}
	n, err = syscall.Read(c.Fd(), w.buf[k:])
	return n, len(w.buf) - k, err
}

// consume handles n bytes that readSome just read.
func (w *worker) consume(c *Conn, n int) bool {
	in := c.in
	if in != nil && in.partHN > 0 {
		in.part = in.part[:len(in.part)+n]
		return w.advance(c)
	}
	filled := n
	if in != nil {
		filled += len(in.part)
		in.part = nil
	}
	return w.ingest(c, w.buf[:filled])
}

// ingest dispatches the complete frames of data and keeps the incomplete
// one that may end it. data may be the worker's buffer: nothing of it is
// kept without a copy.
func (w *worker) ingest(c *Conn, data []byte) bool {
	used, ok := w.parse(c, data)
	if !ok || used == len(data) {
		return ok
	}
	return w.keep(c, data[used:])
}

// keep holds the start of a frame that parse found incomplete (its header
// was checked if complete), in the connection's inbound state. A partial
// header waits in that state itself; once the header is known, the frame
// gets a buffer of its own, twice what has arrived (at least 4 KiB, at most
// the frame: the size limits were checked before), and what has arrived is
// unmasked and, for text, validated straight away.
func (w *worker) keep(c *Conn, rest []byte) bool {
	in := w.s.inboundFor(c)
	h, hn, complete, _ := parseHeader(rest)
	if !complete {
		in.part = append(in.partHdr[:0], rest...)
		return true
	}
	total := hn + int(h.Length)
	in.part = make([]byte, len(rest), min(total, max(2*len(rest), minPartBuf)))
	copy(in.part, rest)
	in.partH, in.partHN, in.partLen, in.partFed = h, hn, total, 0
	if h.OpCode == ws.OpText {
		in.text.reset()
	}
	return w.advance(c)
}

// advance unmasks the bytes of the partial frame that arrived since the last
// call, checks them when they are text, and dispatches the frame once it is
// whole. Invalid UTF-8 fails the connection here, before the frame (or the
// message) completes.
func (w *worker) advance(c *Conn) bool {
	in := c.in
	p := in.part[in.partHN:]
	if fresh := p[in.partFed:]; len(fresh) > 0 {
		ws.Cipher(fresh, in.partH.Mask, in.partFed)
		in.partFed = len(p)
		if w.isText(c, in.partH) && !in.text.feed(fresh) {
			w.fail(c, CloseInvalidPayload, "invalid UTF-8")
			return false
		}
	}
	if len(in.part) < in.partLen {
		return true
	}
	h := in.partH
	in.part, in.partHN, in.partFed = nil, 0, 0
	return w.frame(c, h, p, true)
}

// minPartBuf is the smallest buffer a partial frame gets: small frames cut
// by a read boundary complete in one more read without growing.
const minPartBuf = 4 << 10

// isText reports whether a data frame of an open connection carries text
// to check as it arrives: a text frame, or a continuation of a text
// message, uncompressed (compressed text is checked once inflated).
func (w *worker) isText(c *Conn, h ws.Header) bool {
	if c.state.Load() != stateOpen || compressed(c, h) {
		return false
	}
	return h.OpCode == ws.OpText || (h.OpCode == ws.OpContinuation && c.in.op() == int(ws.OpText))
}

// compressed reports whether a data frame belongs to a compressed message:
// RSV1 on its first frame (checkFrame allowed it only if negotiated).
func compressed(c *Conn, h ws.Header) bool {
	return h.Rsv&rsv1 != 0 || (h.OpCode == ws.OpContinuation && c.in.zipped())
}

// trackMessage records when an incomplete message began, for the sweeper's
// Options.MessageTimeout, and once nothing is incomplete forgets it and
// gives the inbound state back (see inbound).
func (w *worker) trackMessage(c *Conn) {
	if !c.in.receiving() {
		if c.msgStart.Load() != 0 {
			c.msgStart.Store(0)
		}
		w.s.settleInbound(c)
		return
	}
	if c.msgStart.Load() == 0 {
		c.msgStart.Store(w.s.now())
	}
}

// parse dispatches the complete frames at the start of data. It returns the
// bytes used, and false once the connection stopped reading (failed, or the
// peer closed). Every complete header is checked, even if its payload has
// not arrived: a frame that breaks a rule is refused before it is buffered.
func (w *worker) parse(c *Conn, data []byte) (used int, ok bool) {
	for {
		h, hn, complete, err := parseHeader(data[used:])
		if err != nil {
			w.fail(c, CloseProtocolError, "bad frame length")
			return used, false
		}
		if !complete {
			return used, true
		}
		if code, why := w.check(c, h); code != 0 {
			w.fail(c, code, why)
			return used, false
		}
		total := hn + int(h.Length)
		if len(data)-used < total {
			return used, true
		}
		payload := data[used+hn : used+total]
		ws.Cipher(payload, h.Mask, 0)
		used += total
		if !w.frame(c, h, payload, false) {
			return used, false
		}
	}
}

// check applies the per-frame rules, the message size limit and, on an
// open connection, the fragmentation order (RFC 6455 §5.4). It returns 0
// or the close code to fail with, and why.
func (w *worker) check(c *Conn, h ws.Header) (int, string) {
	if code := checkFrame(h, c.deflate.Load()); code != 0 {
		return code, "protocol error"
	}
	if h.OpCode.IsControl() {
		return 0, ""
	}
	limit := int64(w.s.lim().MaxMessageSize)
	if compressed(c, h) {
		limit = deflatedBound(limit)
	}
	if int64(c.in.msgLen())+h.Length > limit {
		return CloseTooBig, "message too big"
	}
	if c.state.Load() != stateOpen {
		return 0, "" // closing: data is no longer delivered
	}
	switch op := c.in.op(); {
	case h.OpCode == ws.OpContinuation && op == 0:
		return CloseProtocolError, "continuation without a message"
	case h.OpCode != ws.OpContinuation && op != 0:
		return CloseProtocolError, "new message inside a fragmented one"
	}
	return 0, ""
}

// frame handles one complete, unmasked frame. fed: its payload went
// through advance, which checked its text already.
func (w *worker) frame(c *Conn, h ws.Header, p []byte, fed bool) bool {
	switch h.OpCode {
	case ws.OpPing:
		if c.state.Load() == stateOpen {
			c.Send(AppendFrame(make([]byte, 0, len(p)+2), ws.OpPong, p))
		}
		return true
	case ws.OpPong:
		return true // any bytes answer a ping: the read path marks it answered
	case ws.OpClose:
		w.peerClose(c, p)
		return false
	}
	if c.state.Load() != stateOpen {
		return true // closing: data is no longer delivered
	}
	return w.data(c, h, p, fed)
}

// peerClose answers the peer's close frame with the same code (RFC 6455
// §5.5.1), or fails the connection when the frame is invalid.
func (w *worker) peerClose(c *Conn, p []byte) {
	c.flags |= peerClosed
	echo, failCode := parseClose(p)
	if failCode != 0 {
		w.fail(c, failCode, "invalid close frame")
		return
	}
	if c.code == 0 {
		c.code = int32(echo)
		if len(p) == 0 {
			c.code = CloseNoStatus
		}
	}
	c.Close(echo, "")
	c.pending.And(^pendClose)
	w.beginClose(c)
	if c.flags.has(closeSent) {
		w.destroy(c) // we had closed first and this is the answer
	}
}

// data assembles fragmented messages and delivers complete ones; check has
// seen to the fragmentation order. An unfragmented message is delivered
// straight from the read buffer, and needs no inbound state (a frame that
// went through advance has one: fed). Text is validated as each fragment
// arrives (fail fast), an unfragmented frame read at once in one go.
func (w *worker) data(c *Conn, h ws.Header, p []byte, fed bool) bool {
	if compressed(c, h) {
		return w.dataDeflated(c, h, p)
	}
	text := h.OpCode == ws.OpText || (h.OpCode == ws.OpContinuation && c.in.op() == int(ws.OpText))
	if h.OpCode != ws.OpContinuation && h.Fin {
		if text && !(fed && c.in.text.complete() || !fed && utf8.Valid(p)) {
			return w.invalidText(c)
		}
		return w.deliver(c, h.OpCode, p)
	}
	in := w.s.inboundFor(c)
	if h.OpCode != ws.OpContinuation {
		in.msgOp = int(h.OpCode)
		if text && !fed {
			in.text.reset()
		}
	}
	in.fragments++
	if in.fragments > w.s.lim().MaxFragments {
		w.fail(c, ClosePolicyViolation, "too many fragments")
		return false
	}
	if text && !fed && !in.text.feed(p) {
		return w.invalidText(c)
	}
	in.msg = append(in.msg, p...)
	if !h.Fin {
		return true
	}
	if text && !in.text.complete() {
		return w.invalidText(c)
	}
	op, msg := ws.OpCode(in.msgOp), in.msg
	in.msgOp, in.fragments, in.msg = 0, 0, nil
	return w.deliver(c, op, msg)
}

func (w *worker) invalidText(c *Conn) bool {
	w.fail(c, CloseInvalidPayload, "invalid UTF-8")
	return false
}

func (w *worker) deliver(c *Conn, op ws.OpCode, p []byte) bool {
	c.session.Message(op == ws.OpBinary, p)
	return true // keep parsing even if the session closed: the peer's close frame may follow
}

// dataDeflated assembles a compressed message as data does an
// uncompressed one (the size limit has bounded its compressed bytes), then
// inflates it whole and checks its text.
func (w *worker) dataDeflated(c *Conn, h ws.Header, p []byte) bool {
	if h.OpCode != ws.OpContinuation && h.Fin {
		return w.inflate(c, h.OpCode, p)
	}
	in := w.s.inboundFor(c)
	if h.OpCode != ws.OpContinuation {
		in.msgOp, in.msgZ = int(h.OpCode), true
	}
	in.fragments++
	if in.fragments > w.s.lim().MaxFragments {
		w.fail(c, ClosePolicyViolation, "too many fragments")
		return false
	}
	in.msg = append(in.msg, p...)
	if !h.Fin {
		return true
	}
	op, msg := ws.OpCode(in.msgOp), in.msg
	in.msgOp, in.msgZ, in.fragments, in.msg = 0, false, 0, nil
	return w.inflate(c, op, msg)
}

// inflate delivers the inflated form of a compressed message, or fails
// the connection: 1009 when it inflates past MaxMessageSize (the limit
// applies to what comes out; nothing past it is held), 1007 when it is
// not valid deflate data or not UTF-8 text. The worker's buffer for it is
// kept for the next message unless a large one grew it.
func (w *worker) inflate(c *Conn, op ws.OpCode, p []byte) bool {
	out, err := w.s.inflate(w.zbuf[:0], p, w.s.lim().MaxMessageSize)
	if cap(out) <= maxKeptInflateBuf {
		w.zbuf = out[:0]
	} else {
		w.zbuf = nil
	}
	switch {
	case errors.Is(err, errInflatedTooBig):
		w.fail(c, CloseTooBig, "message too big")
		return false
	case err != nil:
		w.fail(c, CloseInvalidPayload, "invalid compressed data")
		return false
	case op == ws.OpText && !utf8.Valid(out):
		return w.invalidText(c)
	}
	return w.deliver(c, op, out)
}

// maxKeptInflateBuf is the largest inflate buffer a worker keeps between
// messages.
const maxKeptInflateBuf = 64 << 10
