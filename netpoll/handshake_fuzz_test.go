package netpoll

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// acceptAll is a Handler that accepts every upgrade with a session that
// ignores everything, so fuzzing holds no memory per input.
type acceptAll struct{}

type nopSession struct{}

func (acceptAll) Accept(*Conn, *Request) (Session, error) { return nopSession{}, nil }
func (nopSession) Message(bool, []byte)                   {}
func (nopSession) Closed(int)                             {}

// FuzzHandshake runs the worker's handshaker on arbitrary request heads,
// without sockets: requestPath and the upgrade must not panic, and the
// response must be a well-formed status line; 101 only for a head that asked
// for a WebSocket.
func FuzzHandshake(f *testing.F) {
	seeds := []string{
		upgradeRequest("/ws"),
		upgradeRequest("/ws?token=abc", "Sec-WebSocket-Protocol: fanout.v1, bearer.abc\r\n"),
		upgradeRequest("/ws", "Origin: https://example.com\r\nAuthorization: Bearer x\r\nCookie: a=b\r\nCookie: c=d\r\n"),
		upgradeRequest("/ws", "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n",
		"POST /ws HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /ws HTTP/1.0\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: keep-alive\r\n\r\n",
		"GET /ws HTTP/1.1\r\nno colon here\r\n\r\n",
		"\x00\xff junk \r\n\r\n",
		// checkHead: repeated single headers, and keys of 24 characters
		// that are not base64 of 16 bytes.
		upgradeRequest("/ws", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"),
		upgradeRequest("/ws", "Origin: https://a\r\norigin: https://b\r\n"),
		upgradeRequest("/ws", "Authorization: Bearer a\r\nAUTHORIZATION: Bearer b\r\n"),
		upgradeRequest("/ws", "Sec-WebSocket-Protocol: fanout.v1\r\nSec-WebSocket-Protocol: bearer.x\r\n"),
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n",
		"GET /ws HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!\n\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	s, err := NewServer(Options{Handler: acceptAll{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx, CloseGoingAway, "fuzz over")
	})
	hs := newHandshaker(s)
	raddr := netip.MustParseAddrPort("127.0.0.1:1234")

	f.Fuzz(func(t *testing.T, in []byte) {
		// What readHandshake hands over: a head cut after its first blank
		// line, within MaxHeaderBytes.
		head := in
		if i := bytes.Index(head, headEnd); i >= 0 {
			head = head[:i+len(headEnd)]
		} else {
			head = append(bytes.Clone(head), headEnd...)
		}
		if len(head) > s.opts.MaxHeaderBytes {
			return
		}
		_ = requestPath(head)
		c := &Conn{srv: s, fd: -1}
		c.setRemote(raddr)
		resp, sess, err := hs.upgrade(c, head)
		if len(resp) < 13 || !bytes.HasPrefix(resp, []byte("HTTP/1.1 ")) || !isDigits(resp[9:12]) || resp[12] != ' ' {
			t.Fatalf("malformed response %q for %q", resp, head)
		}
		if !bytes.Contains(resp, []byte("\r\n\r\n")) {
			t.Fatalf("response without an end of head %q", resp)
		}
		upgraded := string(resp[9:12]) == "101"
		if upgraded != (err == nil) || upgraded != (sess != nil) {
			t.Fatalf("status %s with err %v, session %v", resp[9:12], err, sess)
		}
		if upgraded && !bytes.Contains(bytes.ToLower(head), []byte("websocket")) {
			t.Fatalf("101 for a head that never asked for websocket: %q", head)
		}
	})
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// TestHeadInOneReadNotCopied: a request head that arrives whole in one
// read is upgraded from the worker's buffer, without an inbound state or a
// copy of the head; one cut in two is gathered in a copy, as before.
func TestHeadInOneReadNotCopied(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops at random under the race detector")
	}
	s, err := NewServer(Options{Handler: acceptAll{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background(), CloseGoingAway, "") })
	w := newWorker(s)
	req := []byte(upgradeRequest("/ws", "Authorization: Bearer "+strings.Repeat("t", 300)+"\r\n"))
	upgrade := func(pieces ...[]byte) {
		c := &Conn{srv: s, fd: -1}
		for i, p := range pieces {
			if done := w.headBytes(c, p); done != (i == len(pieces)-1) {
				t.Fatalf("piece %d: done %v", i, done)
			}
		}
		if c.state.Load() != stateOpen || c.in != nil {
			t.Fatalf("state %d, inbound %v", c.state.Load(), c.in)
		}
	}
	whole := testing.AllocsPerRun(50, func() { upgrade(req) })
	cut := testing.AllocsPerRun(50, func() { upgrade(req[:100], req[100:]) })
	// In two pieces: the copy of the first and its growth for the second.
	if cut-whole != 2 {
		t.Fatalf("%v allocations whole, %v in two pieces; want two fewer whole (no copy)", whole, cut)
	}
}

// welcomeAll accepts every upgrade and queues a welcome from Accept, as
// the core does, recording the request's path.
type welcomeAll struct{ path *string }

var welcomeFrame = TextFrame([]byte(`{"type":"welcome"}`))

func (h welcomeAll) Accept(c *Conn, r *Request) (Session, error) {
	*h.path = r.Path
	c.Queue(welcomeFrame)
	return nopSession{}, nil
}

// TestUpgradeQueueAndPathAllocs: the upgrade makes room for the response
// and the welcome Accept queues in one array (the welcome's push and
// pushFront allocate none), and the request's path is the configured
// string, not a copy.
func TestUpgradeQueueAndPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops at random under the race detector")
	}
	var path, configured string
	allocs := func(h Handler) float64 {
		s, err := NewServer(Options{Handler: h})
		if err != nil {
			t.Fatal(err)
		}
		configured = s.opts.Path
		t.Cleanup(func() { _ = s.Shutdown(context.Background(), CloseGoingAway, "") })
		w := newWorker(s)
		req := []byte(upgradeRequest("/ws"))
		return testing.AllocsPerRun(50, func() {
			c := &Conn{srv: s, fd: -1}
			w.headBytes(c, req)
			if c.state.Load() != stateOpen {
				t.Fatalf("state %d", c.state.Load())
			}
		})
	}
	if with, without := allocs(welcomeAll{&path}), allocs(acceptAll{}); with != without {
		t.Fatalf("%v allocations with a welcome queued, %v without; want the same", with, without)
	}
	if path != "/ws" || unsafe.StringData(path) != unsafe.StringData(configured) {
		t.Fatalf("path %q is a copy, not Options.Path", path)
	}
}
