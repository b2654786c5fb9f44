package netpoll

import (
	"encoding/binary"
	"net/netip"
	"syscall"

	"github.com/gobwas/ws"
)

// ConnState is one connection as the transport hands it to another
// process: Export produces it, Adopt takes it. It is JSON-encodable; the
// descriptor travels beside it (fd passing), not in it.
type ConnState struct {
	// Fd is the socket. After Export it is still this Server's until
	// Release (or Resume): the caller passes a duplicate on. Adopt owns
	// the descriptor it is given.
	Fd int `json:"-"`
	// Remote is the client's address.
	Remote netip.AddrPort `json:"remote"`
	// Local is the socket's own address (getsockname), so that the
	// receiver can match descriptors to states.
	Local netip.AddrPort `json:"local"`
	// ID is Conn.SetID's value.
	ID string `json:"id,omitempty"`
	// Handshake: the upgrade request was not complete yet; In holds what
	// arrived of its head.
	Handshake bool `json:"handshake,omitempty"`
	// Deflate: permessage-deflate was negotiated.
	Deflate bool `json:"deflate,omitempty"`
	// In is the input read from the socket and not delivered yet, in wire
	// form, exactly as a client could have sent it: the message being
	// assembled as one masked frame without FIN (mask key zero), then the
	// frame still arriving as the client sent it (header and what arrived
	// of its payload). Adopt feeds it through the normal parser, which
	// rebuilds UTF-8 state, fragment counts and limits.
	In []byte `json:"in,omitempty"`
	// Out is what the write queue still holds, in order, as raw bytes
	// (starting with the unwritten rest of a frame a write began).
	Out []byte `json:"out,omitempty"`
	// Verified, set by the receiver, says that it checked Fd is the
	// connected stream socket whose peer is Remote (a hand-off matches
	// each descriptor to its state), and that the socket comes from a
	// transport that set its options: Adopt then skips those system calls
	// (thousands of connections adopted at once). Non-blocking mode is
	// still ensured.
	Verified bool `json:"-"`
}

// Export returns the state of every connection in the handshake or open
// state, with its descriptor; connections that are closing (a close frame
// queued, a handshake being refused, a deadline passed) are left out, and
// Release closes them. It is only meaningful while frozen (it returns nil
// otherwise) and changes nothing: Resume may follow, when the hand-off
// fails. The slices are copies. Frames queued after Export are not in it:
// the caller stops sending into this Server first.
func (s *Server) Export() []ConnState {
	s.freezeMu.Lock()
	defer s.freezeMu.Unlock()
	if !s.frozen {
		return nil
	}
	var conns []*Conn
	s.each(func(c *Conn) { conns = append(conns, c) })
	out := make([]ConnState, 0, len(conns))
	for _, c := range conns {
		if st, ok := c.export(); ok {
			out = append(out, st)
		}
	}
	return out
}

// export is one connection's state; false when it is not handed over. Its
// worker-owned fields are read under the gate, which no worker holds.
func (c *Conn) export() (ConnState, bool) {
	state := c.state.Load()
	if state != stateHandshake && state != stateOpen || c.flags.has(rejecting) ||
		c.pending.Load()&pendKill != 0 {
		return ConnState{}, false
	}
	c.mu.Lock()
	closing := c.dead || c.closeCode != 0
	out := c.q.unwritten()
	c.mu.Unlock()
	if closing {
		return ConnState{}, false
	}
	st := ConnState{
		Fd:        c.Fd(),
		Remote:    c.remote(),
		ID:        c.id,
		Handshake: state == stateHandshake,
		Deflate:   c.deflate.Load(),
		Out:       out,
	}
	if sa, err := syscall.Getsockname(c.Fd()); err == nil {
		st.Local = addrPort(sa)
	}
	switch in := c.in; {
	case in == nil:
	case in.adopted != nil:
		// Adopted, and frozen before its first turn: what it brought is
		// still all it has.
		st.In = append([]byte(nil), in.adopted...)
	case st.Handshake:
		st.In = append([]byte(nil), in.head...)
	default:
		st.In = c.unreadInput()
	}
	return st, true
}

// unwritten copies the queued bytes not yet written, in order. Called
// under Conn.mu.
func (q *writeQueue) unwritten() []byte {
	if q.bytes == 0 {
		return nil
	}
	b := make([]byte, 0, q.bytes)
	for i, e := range q.out {
		if i == 0 {
			b = append(b, e.b[q.head:]...)
			continue
		}
		b = append(b, e.b...)
	}
	return b
}

// unreadInput re-encodes what an open connection received and did not
// deliver: the fragments of the message being assembled as one client
// frame without FIN (first-frame opcode, RSV1 when compressed, a zero
// mask key, which leaves the payload as it is), then the partial frame
// with the part of its payload already unmasked masked again.
func (c *Conn) unreadInput() []byte {
	in := c.in
	if !in.receiving() {
		return nil
	}
	var b []byte
	if in.msgOp != 0 {
		var rsv byte
		if in.msgZ {
			rsv = rsv1
		}
		b = appendClientHeader(b, rsv, ws.OpCode(in.msgOp), len(in.msg))
		b = append(b, in.msg...)
	}
	start := len(b)
	b = append(b, in.part...)
	if in.partHN > 0 {
		fed := b[start+in.partHN : start+in.partHN+in.partFed]
		ws.Cipher(fed, in.partH.Mask, 0)
	}
	return b
}

// appendClientHeader appends the header of a masked frame without FIN
// and with a zero mask key.
func appendClientHeader(dst []byte, rsv byte, op ws.OpCode, n int) []byte {
	b0 := rsv<<4 | byte(op)
	switch {
	case n < 126:
		dst = append(dst, b0, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, 0, 0, 0, 0)
}
