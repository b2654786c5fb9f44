package netpoll

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// FuzzParseHeader checks the resumable header parser against gobwas/ws's
// reader: whenever it reports a complete header, ws.ReadHeader must read the
// same header from the same bytes, and a prefix of it must be incomplete.
func FuzzParseHeader(f *testing.F) {
	for _, seed := range [][]byte{
		text("hello"), frame(false, ws.OpText, bytes.Repeat([]byte("a"), 300), true),
		frame(true, ws.OpClose, closeBody(1000, "x"), true), hugeHeader(1 << 40), hugeHeader(1 << 63),
		{0x81}, {0x81, 0xfe, 0x01}, {},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, ok, err := parseHeader(b)
		if err != nil || !ok {
			return
		}
		if n > len(b) || n < 2 || n > maxHeaderSize {
			t.Fatalf("header size %d of %d bytes", n, len(b))
		}
		want, werr := ws.ReadHeader(bytes.NewReader(b[:n]))
		if werr != nil {
			t.Fatalf("ws.ReadHeader failed on what parseHeader accepted: %v", werr)
		}
		if want != h {
			t.Fatalf("parseHeader %+v, ws.ReadHeader %+v", h, want)
		}
		if _, _, ok, _ := parseHeader(b[:n-1]); ok {
			t.Fatal("a truncated header parsed as complete")
		}
	})
}

// FuzzInflate feeds the inbound inflater untrusted bytes: it must never
// panic, never hold more than the limit plus one byte, and agree with the
// standard library's inflater on what it accepts within the limit.
func FuzzInflate(f *testing.F) {
	for _, seed := range [][]byte{
		deflateRaw(f, []byte("hello")), deflateRaw(f, bytes.Repeat([]byte(`{"k":1}`), 100)),
		deflateRaw(f, make([]byte, 1<<16)), {0}, {0xff, 0xff}, {},
	} {
		f.Add(seed)
	}
	s := &Server{}
	const limit = 4096
	f.Fuzz(func(t *testing.T, p []byte) {
		out, err := s.inflate(nil, p, limit)
		if cap(out) > limit+1 {
			t.Fatalf("buffer grew to %d for a limit of %d", cap(out), limit)
		}
		if err != nil {
			return
		}
		std, serr := io.ReadAll(io.LimitReader(flate.NewReader(io.MultiReader(bytes.NewReader(p),
			bytes.NewReader(deflateTail))), limit+1))
		if serr != nil || !bytes.Equal(std, out) {
			t.Fatalf("inflate %q, standard library %q (%v)", out, std, serr)
		}
	})
}
