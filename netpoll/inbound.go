package netpoll

import "github.com/gobwas/ws"

// inbound is the input a connection holds between two reads: the request
// head until it is complete, the input an adopted connection brought along
// until its first turn, a frame still arriving, the fragments of a message
// being assembled. Nearly every connection is idle nearly all the time and
// holds none of it, so it is not part of Conn: Conn.in points to one only
// while something is held (see inboundFor and settleInbound), and an idle
// connection pays for a nil pointer: Conn went from 456 bytes (the 480-byte
// size class) to 288.
//
// Worker-owned, like the Conn fields it stands for: only the worker running
// the connection's turn touches it (Export, Adopt and Release read or set it
// when no turn can run).
type inbound struct {
	head      []byte              // the request head, until it is complete
	adopted   []byte              // input an adopted connection brought along (ConnState.In), until its first turn
	part      []byte              // a frame still arriving: what has arrived, in a buffer that doubles up to partLen
	partLen   int                 // part's full size (header and payload), once its header is known
	partH     ws.Header           // part's header, once known
	partHN    int                 // part's header length; 0 while the header itself is incomplete
	partFed   int                 // payload bytes of part already unmasked (and checked, for text)
	msg       []byte              // the fragments of the message being assembled
	msgOp     int                 // opcode of the message being assembled; 0 when none
	fragments int                 // its fragments so far
	text      utf8Check           // the text message being received
	msgZ      bool                // the message being assembled is compressed (RSV1 on its first frame)
	partHdr   [maxHeaderSize]byte // part, while the header itself is incomplete
}

// receiving reports that a frame or a message is incomplete. A nil in
// receives nothing.
func (in *inbound) receiving() bool {
	return in != nil && (len(in.part) > 0 || in.msgOp != 0)
}

// empty reports that in holds nothing a later read needs.
func (in *inbound) empty() bool {
	return in == nil || !in.receiving() && len(in.head) == 0 && len(in.adopted) == 0
}

// op is the opcode of the message being assembled, 0 when none.
func (in *inbound) op() int {
	if in == nil {
		return 0
	}
	return in.msgOp
}

// msgLen is how many payload bytes of the message being assembled arrived.
func (in *inbound) msgLen() int {
	if in == nil {
		return 0
	}
	return len(in.msg)
}

// zipped reports that the message being assembled is compressed.
func (in *inbound) zipped() bool { return in != nil && in.msgZ }

// inboundFor returns c's inbound state, taking a fresh one from the pool
// when c holds none.
func (s *Server) inboundFor(c *Conn) *inbound {
	if c.in == nil {
		in, _ := s.inbounds.Get().(*inbound)
		if in == nil {
			in = new(inbound)
		}
		c.in = in
	}
	return c.in
}

// settleInbound gives c's inbound state back to the pool once it holds
// nothing. Called where the read paths end (read, the handshake, an adopted
// connection's first turn), so that an idle connection holds no state;
// nothing may use the old pointer afterwards.
func (s *Server) settleInbound(c *Conn) {
	in := c.in
	if in == nil || !in.empty() {
		return
	}
	c.in = nil
	*in = inbound{} // the pool must not keep buffers alive
	s.inbounds.Put(in)
}
