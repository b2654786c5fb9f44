package netpoll

import (
	"bytes"
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
