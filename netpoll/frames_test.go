package netpoll

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

func TestUpgradeEchoesSubprotocolAndMessages(t *testing.T) {
	_, h, addr := startServer(t, Options{})
	c, head := connect(t, addr, "Sec-WebSocket-Protocol: fanout.v1, bearer.abc\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") || !strings.Contains(head, "Sec-WebSocket-Protocol: fanout.v1\r\n") {
		t.Fatalf("response head = %q", head)
	}
	c.Write(text("hello"))
	hd, p := c.ReadFrame()
	if hd.OpCode != ws.OpText || string(p) != "hello" || hd.Masked {
		t.Fatalf("echo = %v %q", hd, p)
	}
	s := h.session(t, 0)
	if got := strings.Join(s.req.Protocols, ","); got != "fanout.v1,bearer.abc" {
		t.Fatalf("protocols seen by handler = %q", got)
	}
}

func TestRejectedUpgradeGetsStatusAndClose(t *testing.T) {
	srv, _, addr := startServer(t, Options{})
	c, head := connect(t, addr, "Authorization: deny\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 401 ") {
		t.Fatalf("head = %q", head)
	}
	c.ExpectEOF()
	if srv.Stats().Rejected != 1 {
		t.Fatalf("rejected = %d", srv.Stats().Rejected)
	}
}

// TestProtocolViolations ports the Autobahn families that a server must
// fail: each case is answered with the exact close code.
func TestProtocolViolations(t *testing.T) {
	long := bytes.Repeat([]byte("a"), 200)
	cases := []struct {
		name string
		send [][]byte
		code int
	}{
		{name: "unmasked frame", send: [][]byte{frame(true, ws.OpText, []byte("x"), false)}, code: CloseProtocolError},
		{name: "rsv1 without extension", send: [][]byte{withRsv(text("x"))}, code: CloseProtocolError},
		{name: "reserved opcode 3", send: [][]byte{frame(true, 3, nil, true)}, code: CloseProtocolError},
		{name: "reserved control opcode 0xB", send: [][]byte{frame(true, 0xB, nil, true)}, code: CloseProtocolError},
		{name: "fragmented ping", send: [][]byte{frame(false, ws.OpPing, nil, true)}, code: CloseProtocolError},
		{name: "ping over 125 bytes", send: [][]byte{frame(true, ws.OpPing, long, true)}, code: CloseProtocolError},
		{name: "continuation first", send: [][]byte{frame(true, ws.OpContinuation, []byte("x"), true)}, code: CloseProtocolError},
		{name: "text inside fragmented message", send: [][]byte{
			frame(false, ws.OpText, []byte("a"), true), frame(true, ws.OpText, []byte("b"), true)}, code: CloseProtocolError},
		{name: "invalid UTF-8", send: [][]byte{frame(true, ws.OpText, []byte{0xce, 0xba, 0xe1, 0xbd}, true)}, code: CloseInvalidPayload},
		{name: "invalid UTF-8 across fragments", send: [][]byte{
			frame(false, ws.OpText, []byte{0xce}, true), frame(true, ws.OpContinuation, []byte{0xff}, true)}, code: CloseInvalidPayload},
		{name: "message too big", send: [][]byte{frame(true, ws.OpText, bytes.Repeat([]byte("a"), 2000), true)}, code: CloseTooBig},
		{name: "too big across fragments", send: [][]byte{
			frame(false, ws.OpText, bytes.Repeat([]byte("a"), 600), true),
			frame(false, ws.OpContinuation, bytes.Repeat([]byte("a"), 600), true)}, code: CloseTooBig},
		{name: "declared length 2^40", send: [][]byte{hugeHeader(1 << 40)}, code: CloseTooBig},
		{name: "declared length with high bit", send: [][]byte{hugeHeader(1 << 63)}, code: CloseProtocolError},
		{name: "too many fragments", send: emptyFragments(10), code: ClosePolicyViolation},
		{name: "close with one byte", send: [][]byte{frame(true, ws.OpClose, []byte{3}, true)}, code: CloseProtocolError},
		{name: "close with code 1005", send: [][]byte{frame(true, ws.OpClose, closeBody(1005, ""), true)}, code: CloseProtocolError},
		{name: "close with code 999", send: [][]byte{frame(true, ws.OpClose, closeBody(999, ""), true)}, code: CloseProtocolError},
		{name: "close with code 5000", send: [][]byte{frame(true, ws.OpClose, closeBody(5000, ""), true)}, code: CloseProtocolError},
		{name: "close with bad UTF-8 reason", send: [][]byte{
			frame(true, ws.OpClose, append(closeBody(1000, ""), 0xff), true)}, code: CloseInvalidPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, addr := startServer(t, Options{MaxMessageSize: 1024, MaxFragments: 8})
			c, _ := connect(t, addr)
			// One write: frames written one by one could meet the close
			// of an earlier violation (broken pipe) before the last.
			c.Write(bytes.Join(tc.send, nil))
			if got := c.ReadClose(); got != tc.code {
				t.Fatalf("close code = %d, want %d", got, tc.code)
			}
			c.ExpectEOF()
		})
	}
}

// TestCloseHandshakeEchoesCode: a valid close is answered with the same
// code (RFC 6455 §5.5.1), including 1012–1014 and private codes.
func TestCloseHandshakeEchoesCode(t *testing.T) {
	for _, code := range []int{1000, 1001, 1012, 1014, 3000, 4999} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			_, h, addr := startServer(t, Options{})
			c, _ := connect(t, addr)
			c.Write(frame(true, ws.OpClose, closeBody(code, "bye"), true))
			if got := c.ReadClose(); got != code {
				t.Fatalf("echoed %d, want %d", got, code)
			}
			c.ExpectEOF()
			if got := h.session(t, 0).waitClosed(t); got != code {
				t.Fatalf("session saw %d, want %d", got, code)
			}
		})
	}
}

func TestFragmentsWithInterleavedPing(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	c.Write(frame(false, ws.OpText, []byte("Hel"), true))
	c.Write(frame(true, ws.OpPing, []byte("p1"), true))
	c.Write(frame(false, ws.OpContinuation, []byte("lo, "), true))
	c.Write(frame(true, ws.OpContinuation, []byte("κόσμε"), true))
	h, p := c.ReadFrame()
	if h.OpCode != ws.OpPong || string(p) != "p1" {
		t.Fatalf("first frame = %v %q, want the pong", h.OpCode, p)
	}
	h, p = c.ReadFrame()
	if h.OpCode != ws.OpText || string(p) != "Hello, κόσμε" {
		t.Fatalf("message = %v %q", h.OpCode, p)
	}
}

func TestBinaryMessageReachesSession(t *testing.T) {
	_, h, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	c.Write(frame(true, ws.OpBinary, []byte{0, 1, 2}, true))
	hd, p := c.ReadFrame()
	if hd.OpCode != ws.OpBinary || !bytes.Equal(p, []byte{0, 1, 2}) {
		t.Fatalf("echo = %v %v", hd.OpCode, p)
	}
	if got := h.session(t, 0).messages(); len(got) != 1 || got[0] != "true:\x00\x01\x02" {
		t.Fatalf("session got %q", got)
	}
}

func withRsv(f []byte) []byte {
	f[0] |= 0x40
	return f
}

func hugeHeader(n uint64) []byte {
	b := []byte{0x81, 0x80 | 127}
	b = append(b, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(b, 1, 2, 3, 4)
}

func emptyFragments(n int) [][]byte {
	out := [][]byte{frame(false, ws.OpText, nil, true)}
	for range n {
		out = append(out, frame(false, ws.OpContinuation, nil, true))
	}
	return out
}

// TestUTF8SplitAcrossFragments: a valid character whose bytes straddle two
// fragments is delivered whole (validation is per message).
func TestUTF8SplitAcrossFragments(t *testing.T) {
	_, _, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	k := []byte("κ") // 0xce 0xba
	c.Write(frame(false, ws.OpText, k[:1], true))
	c.Write(frame(true, ws.OpContinuation, append(k[1:], "όσμε"...), true))
	if hd, p := c.ReadFrame(); hd.OpCode != ws.OpText || string(p) != "κόσμε" {
		t.Fatalf("got %v %q", hd.OpCode, p)
	}
}
