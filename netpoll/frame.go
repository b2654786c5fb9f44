package netpoll

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// maxHeaderSize is the largest frame header: 2 bytes, 8 of extended length
// and 4 of mask.
const maxHeaderSize = 14

var errFrameLength = errors.New("netpoll: frame length has the high bit set")

// parseHeader decodes a frame header from the start of b. It returns ok=false
// when b does not hold the whole header yet. gobwas/ws only reads headers from
// an io.Reader, which would block or lose the bytes of a partial header; the
// epoll reader needs a parse that can stop and resume.
func parseHeader(b []byte) (h ws.Header, n int, ok bool, err error) {
	if len(b) < 2 {
		return h, 0, false, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < n+2 {
			return h, 0, false, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[n:]))
		n += 2
	case 127:
		if len(b) < n+8 {
			return h, 0, false, nil
		}
		u := binary.BigEndian.Uint64(b[n:])
		if u>>63 != 0 {
			return h, 0, false, errFrameLength
		}
		h.Length = int64(u)
		n += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, false, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, true, nil
}

// AppendFrame appends one unmasked, final server frame carrying payload to
// dst. Server frames are never masked, so the result can be sent unchanged to
// any number of connections: encode once, write many.
func AppendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	n := len(payload)
	b0 := 0x80 | byte(op)
	switch {
	case n < 126:
		dst = append(dst, b0, byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// TextFrame returns a new slice holding payload framed as one text message.
// It allocates once, at the exact size.
func TextFrame(payload []byte) []byte { return newFrame(ws.OpText, payload) }

// BinaryFrame is TextFrame for a binary message.
func BinaryFrame(payload []byte) []byte { return newFrame(ws.OpBinary, payload) }

// newFrame sizes the slice for the longest unmasked header (10 bytes).
func newFrame(op ws.OpCode, payload []byte) []byte {
	return AppendFrame(make([]byte, 0, len(payload)+10), op, payload)
}

// closeFrame builds a close frame with code and reason. The reason is cut to
// fit the 125-byte control frame limit without splitting a UTF-8 sequence.
func closeFrame(code int, reason string) []byte {
	const max = 123
	if len(reason) > max {
		reason = reason[:max]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	body := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(body, uint16(code))
	body = append(body, reason...)
	return AppendFrame(make([]byte, 0, len(body)+2), ws.OpClose, body)
}

// pingFrame is the heartbeat ping: empty and shared by every connection.
var pingFrame = AppendFrame(nil, ws.OpPing, nil)

// checkFrame applies RFC 6455's per-frame rules for frames from a client.
// It returns 0 when the frame is acceptable, or the close code to fail with.
// deflate: permessage-deflate was negotiated, so RSV1 may mark the first
// frame of a data message as compressed (RFC 7692 §6), never a control
// frame or a continuation.
func checkFrame(h ws.Header, deflate bool) int {
	switch {
	case !h.Masked: // §5.1: a server MUST close on an unmasked client frame
		return CloseProtocolError
	case h.Rsv == rsv1 && deflate && !h.OpCode.IsControl() && h.OpCode != ws.OpContinuation:
	case h.Rsv != 0: // no (other) extension was negotiated (§5.2)
		return CloseProtocolError
	case h.OpCode.IsReserved():
		return CloseProtocolError
	case h.OpCode.IsControl() && (!h.Fin || h.Length > 125): // §5.5
		return CloseProtocolError
	}
	return 0
}

// parseClose validates a peer's close payload and returns the code to echo.
// An empty payload is a close without status, answered with 1000.
func parseClose(p []byte) (echo int, fail int) {
	switch {
	case len(p) == 0:
		return CloseNormal, 0
	case len(p) == 1:
		return 0, CloseProtocolError
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validPeerCloseCode(code) {
		return 0, CloseProtocolError
	}
	if !utf8.Valid(p[2:]) {
		return 0, CloseInvalidPayload
	}
	return code, 0
}
