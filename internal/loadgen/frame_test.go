package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

func serverFrame(op ws.OpCode, fin bool, p []byte) []byte {
	var b bytes.Buffer
	_ = ws.WriteFrame(&b, ws.Frame{Header: ws.Header{Fin: fin, OpCode: op, Length: int64(len(p))}, Payload: p})
	return b.Bytes()
}

func eventFrame(ts, seq int64, size int) []byte {
	msg := `{"type":"bench","channel":"bench:3","payload":` + string(appendPayload(nil, ts, seq, size)) + `}`
	return serverFrame(ws.OpText, true, []byte(msg))
}

func TestFrameReaderReadsBackToBackFramesInPlaceAndLarge(t *testing.T) {
	var stream bytes.Buffer
	stream.Write(eventFrame(1_700_000_000_000_000_001, 1, 200))
	stream.Write(serverFrame(ws.OpPing, true, []byte("hb")))
	stream.Write(eventFrame(1_700_000_000_000_000_002, 2, 5000)) // larger than the reader
	stream.Write(eventFrame(1_700_000_000_000_000_003, 3, 100))
	r := newFrameReader(&stream, 1024)
	want := []struct {
		op  ws.OpCode
		seq int64
	}{{ws.OpText, 1}, {ws.OpPing, -1}, {ws.OpText, 2}, {ws.OpText, 3}}
	for i, w := range want {
		h, p, err := r.next()
		if err != nil || h.OpCode != w.op {
			t.Fatalf("frame %d: %v %v", i, h.OpCode, err)
		}
		if w.seq < 0 {
			if string(p) != "hb" {
				t.Fatalf("ping payload %q", p)
			}
			continue
		}
		ts, seq, ok := parseEvent(p)
		if !ok || seq != w.seq || ts != 1_700_000_000_000_000_000+w.seq {
			t.Fatalf("frame %d: ts %d seq %d ok %v", i, ts, seq, ok)
		}
		if !json.Valid(p) {
			t.Fatalf("frame %d is not JSON: %.80s", i, p)
		}
	}
	if _, _, err := r.next(); err == nil {
		t.Fatal("read past the end")
	}
}

func TestFrameReaderRejectsMaskedFrames(t *testing.T) {
	f := ws.MaskFrame(ws.NewTextFrame([]byte("x")))
	var b bytes.Buffer
	_ = ws.WriteFrame(&b, f)
	if _, _, err := newFrameReader(&b, 1024).next(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("masked server frame: %v", err)
	}
}

func TestParseEvent(t *testing.T) {
	cases := []struct {
		name    string
		msg     string
		ts, seq int64
		ok      bool
	}{
		{name: "event", msg: `{"type":"bench","channel":"bench:0","payload":{"ts":123,"seq":4,"pad":"xx"}}`, ts: 123, seq: 4, ok: true},
		{name: "keys reordered", msg: `{"payload":{"pad":"","seq":9,"ts":8}}`, ts: 8, seq: 9, ok: true},
		{name: "welcome", msg: `{"type":"welcome","connection_id":"a","user":"u"}`},
		{name: "no digits", msg: `{"payload":{"ts":"x","seq":1}}`},
		{name: "no seq", msg: `{"payload":{"ts":5}}`},
	}
	for _, tc := range cases {
		ts, seq, ok := parseEvent([]byte(tc.msg))
		if ts != tc.ts || seq != tc.seq || ok != tc.ok {
			t.Errorf("%s: %d %d %v", tc.name, ts, seq, ok)
		}
	}
}

func TestPayloadHasExactSizeAndIsJSON(t *testing.T) {
	ts := time.Now().UnixNano()
	for _, size := range []int{MinPayload, 100, 200, 4096} {
		for _, seq := range []int64{0, 9, 123456789} {
			p := appendPayload(nil, ts, seq, size)
			if len(p) != size || !json.Valid(p) {
				t.Fatalf("size %d seq %d: %d bytes %q", size, seq, len(p), p)
			}
		}
	}
}

func TestPublishBodyIsValidAndRoundRobin(t *testing.T) {
	p := &publisher{batch: 3, payload: 100, channels: 2}
	var events []struct {
		Channel string          `json:"channel"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	body := p.body(nil, 5, 3, 42)
	if err := json.Unmarshal(body, &events); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	for i, e := range events {
		ts, seq, ok := parseEvent(e.Payload)
		if !ok || ts != 42 || seq != int64(5+i) || e.Channel != ChannelName((5+i)%2) || e.Type != eventType {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	p.batch = 1
	var one map[string]any
	if err := json.Unmarshal(p.body(nil, 7, 1, 42), &one); err != nil || one["channel"] != "bench:1" {
		t.Fatalf("single event %v %v", one, err)
	}
}

// TestClientFramesAreMaskedAndWhole checks what the server will parse: one
// masked frame per write, which unmasks to the payload.
func TestClientFramesAreMaskedAndWhole(t *testing.T) {
	a, b := net.Pipe()
	defer func() { _ = a.Close(); _ = b.Close() }()
	go func() { _ = writeClientFrame(a, ws.OpPong, []byte("beat")) }()
	f, err := ws.ReadFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Header.Masked || f.Header.OpCode != ws.OpPong || !f.Header.Fin {
		t.Fatalf("header %+v", f.Header)
	}
	f = ws.UnmaskFrameInPlace(f)
	if string(f.Payload) != "beat" {
		t.Fatalf("payload %q", f.Payload)
	}
}

func TestCloseErrorNamesTheCode(t *testing.T) {
	if got := closeError([]byte{0x0f, 0xa1, 'x'}).Error(); !strings.HasPrefix(got, "close 4001") {
		t.Fatalf("closeError = %q", got)
	}
}

func BenchmarkReceivePath(b *testing.B) {
	frame := eventFrame(time.Now().UnixNano(), 1, 200)
	var stream bytes.Buffer
	r := newFrameReader(&stream, 1024)
	var h Histogram
	b.ReportAllocs()
	for b.Loop() {
		stream.Write(frame)
		_, p, err := r.next()
		if err != nil {
			b.Fatal(err)
		}
		ts, _, _ := parseEvent(p)
		h.Record((time.Now().UnixNano() - ts) / 1000)
	}
}

func TestJSONPayload(t *testing.T) {
	for _, size := range []int{MinPayload, 100, 200, 2048, 64 << 10} {
		p := appendJSONPayload(nil, 1700000000000000000, 42, size)
		if len(p) != size {
			t.Errorf("size %d: got %d bytes", size, len(p))
		}
		if !json.Valid(p) {
			t.Fatalf("size %d: not JSON: %s", size, p)
		}
		if ts, seq, ok := parseEvent(p); !ok || ts != 1700000000000000000 || seq != 42 {
			t.Fatalf("size %d: parseEvent = %d %d %v", size, ts, seq, ok)
		}
	}
}
