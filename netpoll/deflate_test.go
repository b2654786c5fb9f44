package netpoll

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// deflateRaw compresses p as a permessage-deflate sender does: a sync
// flush with its 00 00 ff ff tail removed, from an empty window.
func deflateRaw(t testing.TB, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// stored deflates p without compression (stored blocks): the compressed
// form is a few bytes longer than p, as an incompressible message's is.
func stored(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.NoCompression)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// inflateRaw is deflateRaw's inverse, with the standard library's reader.
func inflateRaw(t testing.TB, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail)))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

// zframe is a masked client frame with RSV1 set.
func zframe(fin bool, op ws.OpCode, p []byte) []byte { return withRsv(frame(fin, op, p, true)) }

const offerChromium = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

func TestDeflateNegotiation(t *testing.T) {
	const accepted = "Sec-WebSocket-Extensions: permessage-deflate;server_no_context_takeover;client_no_context_takeover\r\n"
	cases := []struct {
		name    string
		off     bool
		offer   string
		want    bool
		deflate bool
	}{
		{name: "chromium offer", offer: offerChromium, want: true},
		{name: "npm ws offer", offer: "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", want: true},
		{name: "firefox offer", offer: "Sec-WebSocket-Extensions: permessage-deflate\r\n", want: true},
		{name: "client asks no context takeover", offer: "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n", want: true},
		{name: "small server window declined", offer: "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n"},
		{name: "any server window declined", offer: "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15\r\n"},
		{name: "second offer taken", offer: "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10, permessage-deflate\r\n", want: true},
		{name: "unknown parameter declined", offer: "Sec-WebSocket-Extensions: permessage-deflate; foo=1\r\n"},
		{name: "other extension ignored", offer: "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"},
		{name: "no offer"},
		{name: "deflate off", off: true, offer: offerChromium},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, h, addr := startServer(t, Options{Deflate: !tc.off})
			c, head := connect(t, addr, tc.offer)
			if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
				t.Fatalf("head = %q", head)
			}
			if got := strings.Contains(head, accepted); got != tc.want {
				t.Fatalf("accepted = %v, want %v; head = %q", got, tc.want, head)
			}
			if !tc.want && strings.Contains(head, "Sec-WebSocket-Extensions") {
				t.Fatalf("an extension was answered: %q", head)
			}
			if got := h.session(t, 0).c.Deflate(); got != tc.want {
				t.Fatalf("Conn.Deflate = %v, want %v", got, tc.want)
			}
			c.Write(text("still works"))
			if _, p := c.ReadFrame(); string(p) != "still works" {
				t.Fatalf("echo = %q", p)
			}
		})
	}
}

// TestDeflateInbound: compressed messages, whole or fragmented, reach the
// session inflated; the limit applies to the inflated size.
func TestDeflateInbound(t *testing.T) {
	big := bytes.Repeat([]byte(`{"status":"ok","value":12},`), 30) // 810 bytes, compresses well
	noise := make([]byte, 1024)
	for i := range noise {
		noise[i] = byte(i*7919 + i*i*31)
	}
	zbig := deflateRaw(t, big)
	cases := []struct {
		name string
		send [][]byte
		want string
	}{
		{name: "text", send: [][]byte{zframe(true, ws.OpText, deflateRaw(t, []byte("hello")))}, want: "false:hello"},
		{name: "binary", send: [][]byte{zframe(true, ws.OpBinary, deflateRaw(t, []byte{0, 1, 2}))}, want: "true:\x00\x01\x02"},
		{name: "empty", send: [][]byte{zframe(true, ws.OpText, []byte{0})}, want: "false:"},
		{name: "fragmented", send: [][]byte{
			zframe(false, ws.OpText, zbig[:10]),
			frame(false, ws.OpContinuation, zbig[10:20], true),
			frame(true, ws.OpPing, nil, true),
			frame(true, ws.OpContinuation, zbig[20:], true)}, want: "false:" + string(big)},
		{name: "uncompressed still accepted", send: [][]byte{text("plain")}, want: "false:plain"},
		{name: "incompressible at the limit (larger compressed)", send: [][]byte{zframe(true, ws.OpBinary, stored(noise))},
			want: "true:" + string(noise)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, h, addr := startServer(t, Options{Deflate: true, MaxMessageSize: 1024})
			c, _ := connect(t, addr, offerChromium)
			c.Write(bytes.Join(tc.send, nil))
			c.Write(text("end"))
			for range 3 {
				if hd, p := c.ReadFrame(); hd.OpCode != ws.OpPong && string(p) == "end" {
					break
				}
			}
			msgs := h.session(t, 0).messages()
			if len(msgs) != 2 || msgs[0] != tc.want {
				t.Fatalf("session got %q, want %q", msgs, tc.want)
			}
		})
	}
}

func TestDeflateViolations(t *testing.T) {
	bomb := deflateRaw(t, make([]byte, 10<<20)) // 10 MiB of zeros in ~10 KiB
	cases := []struct {
		name string
		send [][]byte
		code int
	}{
		{name: "rsv1 on ping", send: [][]byte{zframe(true, ws.OpPing, nil)}, code: CloseProtocolError},
		{name: "rsv1 on close", send: [][]byte{zframe(true, ws.OpClose, closeBody(1000, ""))}, code: CloseProtocolError},
		{name: "rsv1 on continuation", send: [][]byte{
			zframe(false, ws.OpText, deflateRaw(t, []byte("ab"))[:1]), zframe(true, ws.OpContinuation, []byte{0})}, code: CloseProtocolError},
		{name: "rsv2", send: [][]byte{func() []byte { f := text("x"); f[0] |= 0x20; return f }()}, code: CloseProtocolError},
		{name: "deflate bomb", send: [][]byte{zframe(true, ws.OpBinary, bomb[:min(len(bomb), 1000)])}, code: CloseTooBig},
		{name: "inflates just past the limit", send: [][]byte{zframe(true, ws.OpText, deflateRaw(t, bytes.Repeat([]byte("a"), 1025)))}, code: CloseTooBig},
		{name: "not deflate data", send: [][]byte{zframe(true, ws.OpText, []byte{0xff, 0xff, 0xff})}, code: CloseInvalidPayload},
		{name: "inflated text not UTF-8", send: [][]byte{zframe(true, ws.OpText, deflateRaw(t, []byte{0xce, 0xff}))}, code: CloseInvalidPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, addr := startServer(t, Options{Deflate: true, MaxMessageSize: 1024, MaxFragments: 8})
			c, _ := connect(t, addr, offerChromium)
			c.Write(bytes.Join(tc.send, nil))
			if got := c.ReadClose(); got != tc.code {
				t.Fatalf("close code = %d, want %d", got, tc.code)
			}
			c.ExpectEOF()
		})
	}
	t.Run("rsv1 without negotiation", func(t *testing.T) {
		_, _, addr := startServer(t, Options{Deflate: true})
		c, _ := connect(t, addr)
		c.Write(zframe(true, ws.OpText, deflateRaw(t, []byte("x"))))
		if got := c.ReadClose(); got != CloseProtocolError {
			t.Fatalf("close code = %d, want 1002", got)
		}
	})
}

// TestInflateHoldsAtMostTheLimit: a bomb is refused having inflated no
// more than the limit (and the byte that proves it is over).
func TestInflateHoldsAtMostTheLimit(t *testing.T) {
	s := &Server{}
	bomb := deflateRaw(t, make([]byte, 64<<20))
	const limit = 1 << 20
	out, err := s.inflate(nil, bomb, limit)
	if !errors.Is(err, errInflatedTooBig) {
		t.Fatalf("err = %v", err)
	}
	if cap(out) > limit+1 {
		t.Fatalf("inflate buffer grew to %d bytes for a %d limit", cap(out), limit)
	}
	out, err = s.inflate(out[:0], deflateRaw(t, []byte("small")), limit)
	if err != nil || string(out) != "small" {
		t.Fatalf("pooled inflater reused: %q, %v", out, err)
	}
}

func TestCompressorFrame(t *testing.T) {
	z := NewCompressor(0)
	for _, n := range []int{1, 100, 5000, 70000} {
		payload := bytes.Repeat([]byte(`{"k":"v"}`), n)[:n]
		for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
			f := AppendFrame(nil, op, payload)
			zf, err := z.Frame(f)
			if err != nil {
				t.Fatal(err)
			}
			h, hn, ok, err := parseHeader(zf)
			if !ok || err != nil || h.Rsv != rsv1 || h.OpCode != op || !h.Fin || h.Masked || int64(len(zf)-hn) != h.Length {
				t.Fatalf("n=%d: header %+v", n, h)
			}
			if got := inflateRaw(t, zf[hn:]); !bytes.Equal(got, payload) {
				t.Fatalf("n=%d: round trip lost the payload", n)
			}
		}
	}
	for _, bad := range [][]byte{nil, pingFrame, withRsv(AppendFrame(nil, ws.OpText, []byte("x"))), text("masked")} {
		if _, err := z.Frame(bad); !errors.Is(err, ErrNotFrame) {
			t.Fatalf("Frame(%q) err = %v", bad, err)
		}
	}
}

// TestCompressedFrameIsTheSameForEveryone: without context takeover, the
// bytes depend only on the payload, so one frame serves every connection;
// two connections that negotiated deflate receive it and inflate it alike.
func TestCompressedFrameIsTheSameForEveryone(t *testing.T) {
	_, h, addr := startServer(t, Options{Deflate: true})
	a, _ := connect(t, addr, offerChromium)
	b, _ := connect(t, addr, offerChromium)
	payload := bytes.Repeat([]byte(`{"cpu":0.5,"host":"web-1"}`), 40)
	zf, err := NewCompressor(1).Frame(TextFrame(payload))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []*rawClient{a, b} {
		h.session(t, i).c.Send(zf)
		hd, p := c.ReadFrame()
		if hd.Rsv != rsv1 || !bytes.Equal(inflateRaw(t, p), payload) {
			t.Fatalf("client %d: rsv=%d, payload differs", i, hd.Rsv)
		}
	}
}

// BenchmarkCompressorFrame is the one compression an event costs, at each
// level, for the dashboard's ADR-004 event and a 2 KB JSON object: ns and
// allocations per event (not per subscriber), and the bytes saved.
func BenchmarkCompressorFrame(b *testing.B) {
	adr004 := []byte(`{"type":"story.status.changed","channel":"project:abc-123","projectId":"abc-123","offset":42,` +
		`"epoch":"3e9dcaef-7","payload":{"storyId":"6-5","status":"done"}}`)
	var j bytes.Buffer
	j.WriteString(`{"hosts":[`)
	for i := 0; j.Len() < 2040; i++ {
		if i > 0 {
			j.WriteByte(',')
		}
		fmt.Fprintf(&j, `{"host":"web-%d","cpu":%d.%d,"mem":%d,"status":"ok"}`, i, i%97, i%10, 1000+i*7)
	}
	j.WriteString(`]}`)
	for _, ev := range []struct {
		name    string
		payload []byte
	}{{"adr004", adr004}, {"json2k", j.Bytes()}} {
		for _, level := range []int{1, 5, 9} {
			b.Run(fmt.Sprintf("%s/level%d", ev.name, level), func(b *testing.B) {
				z := NewCompressor(level)
				f := TextFrame(ev.payload)
				var out []byte
				b.ReportAllocs()
				for b.Loop() {
					out, _ = z.Frame(f)
				}
				b.ReportMetric(float64(len(f)), "bytes-in")
				b.ReportMetric(float64(len(out)), "bytes-out")
			})
		}
	}
}

// BenchmarkInflate is the cost of one inbound compressed message: a pooled
// inflater reset for it, no allocation once warm (the input is a
// flate.Reader, so the inflater does not wrap it in a new bufio.Reader).
func BenchmarkInflate(b *testing.B) {
	s := &Server{}
	p := deflateRaw(b, []byte(`{"action":"subscribe","channel":"project:abc-123","id":"7"}`))
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = s.inflate(out[:0], p, 1<<16); err != nil {
			b.Fatal(err)
		}
	}
}
