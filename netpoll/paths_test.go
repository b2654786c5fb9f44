package netpoll

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd/internal/wstest"
	"github.com/gobwas/ws"
)

// TestExtraPathsUpgrade: an extra path upgrades like Path, the handler sees
// which one was asked for, and any other path is still refused.
func TestExtraPathsUpgrade(t *testing.T) {
	_, h, addr := startServer(t, Options{ExtraPaths: []string{"/echo"}})
	for i, path := range []string{"/echo", "/ws"} {
		c, head := wstest.Connect(t, addr, path)
		if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
			t.Fatalf("%s: head = %q", path, head)
		}
		if got := h.session(t, i).req.Path; got != path {
			t.Fatalf("handler saw path %q, want %q", got, path)
		}
		c.Write(text("x"))
		if hd, p := c.ReadFrame(); hd.OpCode != ws.OpText || string(p) != "x" {
			t.Fatalf("%s: echo = %v %q", path, hd.OpCode, p)
		}
	}
	for _, path := range []string{"/echo/", "/echoes", "/"} {
		if _, head := wstest.Connect(t, addr, path); !strings.HasPrefix(head, "HTTP/1.1 404 ") {
			t.Fatalf("%s: head = %q, want 404", path, head)
		}
	}
}

func TestUpgradePathMatchDoesNotAllocate(t *testing.T) {
	s := &Server{opts: Options{Path: "/ws", ExtraPaths: []string{"/echo"}}}
	head := []byte(wstest.UpgradeRequest("/nowhere?x=1"))
	allocs := testing.AllocsPerRun(100, func() {
		if s.upgrades(requestPath(head)) {
			t.Fatal("matched /nowhere")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per match", allocs)
	}
}

// TestFramesMatchGobwas: TextFrame and BinaryFrame encode exactly as
// gobwas/ws does, in each length form, with one allocation.
func TestFramesMatchGobwas(t *testing.T) {
	for _, n := range []int{0, 125, 126, 0xffff, 0x10000} {
		p := bytes.Repeat([]byte{'a'}, n)
		for _, tc := range []struct {
			enc  func([]byte) []byte
			want ws.Frame
		}{{TextFrame, ws.NewTextFrame(p)}, {BinaryFrame, ws.NewBinaryFrame(p)}} {
			want, err := ws.CompileFrame(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.enc(p); !bytes.Equal(got, want) {
				t.Errorf("%v of %d bytes: header % x, want % x", tc.want.Header.OpCode, n, got[:min(len(got), 10)], want[:min(len(want), 10)])
			}
			if a := testing.AllocsPerRun(10, func() { _ = tc.enc(p) }); a != 1 {
				t.Errorf("%v of %d bytes: %v allocations, want 1", tc.want.Header.OpCode, n, a)
			}
		}
	}
}

// TestCheckHeadDoesNotAllocate: the duplicate-header and key check runs on
// every upgrade; like the path match, it costs no allocation.
func TestCheckHeadDoesNotAllocate(t *testing.T) {
	head := []byte(upgradeRequest("/ws", "Origin: https://a.example\r\nSec-WebSocket-Protocol: fanout.v1\r\n"))
	if resp := checkHead(head); resp != nil {
		t.Fatalf("valid head refused: %q", resp)
	}
	if n := testing.AllocsPerRun(100, func() { _ = checkHead(head) }); n != 0 {
		t.Fatalf("checkHead allocates %v times", n)
	}
}
