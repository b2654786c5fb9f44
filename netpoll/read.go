package netpoll

import (
	"syscall"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// read takes what the socket has, up to the read budget, and dispatches every
// complete frame. A partial frame is copied to c.rbuf and completed by a
// later read: nothing here waits for bytes that have not arrived.
func (w *worker) read(c *Conn) {
	filled := copy(w.grow(len(c.rbuf)+512), c.rbuf)
	c.rbuf = nil
	budget := w.s.opts.ReadBudget
	for {
		n, err := syscall.Read(c.fd, w.buf[filled:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil || n == 0 {
			w.destroy(c) // reset or EOF: nothing more can be said to this peer
			return
		}
		c.lastRecv.Store(w.s.now())
		filled += n
		budget -= n
		used, need, ok := w.parse(c, w.buf[:filled])
		if !ok || c.state.Load() == stateClosed {
			return
		}
		filled = copy(w.buf, w.buf[used:filled])
		w.grow(max(need, filled+1))
		if budget <= 0 {
			c.pending.Or(pendRead) // more may be waiting: come back after the others
			break
		}
	}
	if filled > 0 {
		c.rbuf = append([]byte(nil), w.buf[:filled]...)
	}
}

// grow makes the read buffer hold at least n bytes and returns it. Frame
// lengths are checked against the limits before grow is asked for them.
func (w *worker) grow(n int) []byte {
	if n > len(w.buf) {
		nb := make([]byte, max(n, 2*len(w.buf)))
		copy(nb, w.buf)
		w.buf = nb
	}
	return w.buf
}

// parse dispatches the complete frames at the start of data. It returns the
// bytes used, the size the next (incomplete) frame needs, and false once the
// connection stopped reading (failed, or the peer closed).
func (w *worker) parse(c *Conn, data []byte) (used, need int, ok bool) {
	for {
		h, hn, complete, err := parseHeader(data[used:])
		if err != nil {
			w.fail(c, CloseProtocolError, "bad frame length")
			return used, 0, false
		}
		if !complete {
			return used, 0, true
		}
		if code := checkFrame(h); code != 0 {
			w.fail(c, code, "protocol error")
			return used, 0, false
		}
		if h.OpCode.IsData() || h.OpCode == ws.OpContinuation {
			if int64(len(c.msg))+h.Length > int64(w.s.lim().MaxMessageSize) {
				w.fail(c, CloseTooBig, "message too big")
				return used, 0, false
			}
		}
		total := hn + int(h.Length)
		if len(data)-used < total {
			return used, total, true
		}
		payload := data[used+hn : used+total]
		ws.Cipher(payload, h.Mask, 0)
		used += total
		if !w.frame(c, h, payload) {
			return used, 0, false
		}
	}
}

// frame handles one complete, unmasked frame.
func (w *worker) frame(c *Conn, h ws.Header, p []byte) bool {
	switch h.OpCode {
	case ws.OpPing:
		if c.state.Load() == stateOpen {
			c.Send(AppendFrame(make([]byte, 0, len(p)+2), ws.OpPong, p))
		}
		return true
	case ws.OpPong:
		return true // liveness is tracked by lastRecv
	case ws.OpClose:
		w.peerClose(c, p)
		return false
	}
	if c.state.Load() != stateOpen {
		return true // closing: data is no longer delivered
	}
	return w.data(c, h, p)
}

// peerClose answers the peer's close frame with the same code (RFC 6455
// §5.5.1), or fails the connection when the frame is invalid.
func (w *worker) peerClose(c *Conn, p []byte) {
	c.peerClosed = true
	echo, failCode := parseClose(p)
	if failCode != 0 {
		w.fail(c, failCode, "invalid close frame")
		return
	}
	if c.code == 0 {
		c.code = echo
		if len(p) == 0 {
			c.code = CloseNoStatus
		}
	}
	c.Close(echo, "")
	c.pending.And(^pendClose)
	w.beginClose(c)
	if c.closeSent {
		w.destroy(c) // we had closed first and this is the answer
	}
}

// data assembles fragmented messages and delivers complete ones. An
// unfragmented message is delivered straight from the read buffer.
func (w *worker) data(c *Conn, h ws.Header, p []byte) bool {
	if h.OpCode == ws.OpContinuation {
		if c.msgOp == 0 {
			w.fail(c, CloseProtocolError, "continuation without a message")
			return false
		}
	} else {
		if c.msgOp != 0 {
			w.fail(c, CloseProtocolError, "new message inside a fragmented one")
			return false
		}
		if h.Fin {
			return w.deliver(c, h.OpCode, p)
		}
		c.msgOp = int(h.OpCode)
	}
	c.fragments++
	if c.fragments > w.s.lim().MaxFragments {
		w.fail(c, ClosePolicyViolation, "too many fragments")
		return false
	}
	c.msg = append(c.msg, p...)
	if !h.Fin {
		return true
	}
	op, msg := ws.OpCode(c.msgOp), c.msg
	c.msgOp, c.fragments, c.msg = 0, 0, nil
	return w.deliver(c, op, msg)
}

func (w *worker) deliver(c *Conn, op ws.OpCode, p []byte) bool {
	if op == ws.OpText && !utf8.Valid(p) {
		w.fail(c, CloseInvalidPayload, "invalid UTF-8")
		return false
	}
	c.session.Message(op == ws.OpBinary, p)
	return true // keep parsing even if the session closed: the peer's close frame may follow
}
