package netpoll

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestDripDoesNotStallOthers: with a single worker, a client sending its
// handshake and a frame one byte at a time never delays another client. The
// proof is ordering, not timing: the other client receives all its messages
// while the dripper is still mid-frame.
func TestDripDoesNotStallOthers(t *testing.T) {
	_, h, addr := startServer(t, Options{Workers: 1})
	fast, _ := connect(t, addr)
	fastSess := h.session(t, 0)

	drip := dialRaw(t, addr)
	msg := append([]byte(upgradeRequest("/ws")), text("dripped")...)
	half := len(msg) - 3
	for _, b := range msg[:half] {
		drip.Write([]byte{b})
		time.Sleep(time.Millisecond)
	}
	for i := range 50 {
		if !fastSess.c.Send(TextFrame(fmt.Appendf(nil, "m%d", i))) {
			t.Fatal("send to the fast client failed")
		}
	}
	for i := range 50 {
		_, p := fast.ReadFrame()
		if want := fmt.Sprintf("m%d", i); string(p) != want {
			t.Fatalf("fast client got %q, want %q", p, want)
		}
	}
	// Only now does the dripper finish its frame.
	for _, b := range msg[half:] {
		drip.Write([]byte{b})
	}
	if head := drip.ReadHead(); !bytes.HasPrefix([]byte(head), []byte("HTTP/1.1 101")) {
		t.Fatalf("dripper head = %q", head)
	}
	_, p := drip.ReadFrame()
	if string(p) != "dripped" {
		t.Fatalf("dripper echo = %q", p)
	}
}

// TestStalledReaderIsClosedOthersServed: a client that stops reading while
// events keep coming fills its bounded queue and is closed with
// CloseSlowConsumer; the other client receives every event meanwhile.
func TestStalledReaderIsClosedOthersServed(t *testing.T) {
	srv, h, addr := startServer(t, Options{Workers: 1, WriteQueueBytes: 256 << 10, CloseTimeout: 20 * time.Second})
	stalled, _ := connect(t, addr)
	stalledSess := h.session(t, 0)
	fast, _ := connect(t, addr)
	fastSess := h.session(t, 1)

	big := TextFrame(bytes.Repeat([]byte("x"), 32<<10))
	sent, refused := 0, false
	for i := 0; i < 4096 && !refused; i++ {
		refused = !stalledSess.c.Send(big)
		if !refused {
			sent++
		}
		fastSess.c.Send(TextFrame(fmt.Appendf(nil, "e%d", i)))
		_, p := fast.ReadFrame()
		if want := fmt.Sprintf("e%d", i); string(p) != want {
			t.Fatalf("fast client got %q, want %q", p, want)
		}
	}
	if !refused {
		t.Fatal("the stalled client's queue never overflowed")
	}
	if srv.Stats().SlowConsumer != 1 {
		t.Fatalf("slow consumer closes = %d", srv.Stats().SlowConsumer)
	}
	// The stalled client now reads: whole frames, then the close code.
	frames := 0
	for {
		hd, p := stalled.ReadFrame()
		if hd.OpCode == ws.OpClose {
			if code := int(p[0])<<8 | int(p[1]); code != CloseSlowConsumer {
				t.Fatalf("close code = %d, want %d", code, CloseSlowConsumer)
			}
			break
		}
		if hd.OpCode == ws.OpText && len(p) != 32<<10 {
			t.Fatalf("frame %d cut: %d bytes", frames, len(p))
		}
		frames++
	}
	if frames == 0 || frames > sent {
		t.Fatalf("stalled client read %d frames of %d sent", frames, sent)
	}
	stalled.Write(frame(true, ws.OpClose, closeBody(CloseSlowConsumer, ""), true))
	if code := stalledSess.waitClosed(t); code != CloseSlowConsumer {
		t.Fatalf("session closed with %d", code)
	}
}

// TestControlFramesNeverInsideDataFrames: pongs answered while large frames
// are being written arrive between frames, never inside one.
func TestControlFramesNeverInsideDataFrames(t *testing.T) {
	_, h, addr := startServer(t, Options{WriteQueueBytes: 64 << 20})
	c, _ := connect(t, addr)
	s := h.session(t, 0)
	payload := bytes.Repeat([]byte("abcdefgh"), 64<<10) // 512 KiB: many partial writes
	const n = 20
	go func() {
		for range n {
			s.c.Send(TextFrame(payload))
		}
	}()
	for i := range 200 {
		c.Write(frame(true, ws.OpPing, fmt.Appendf(nil, "%d", i), true))
	}
	texts, pongs := 0, 0
	for texts < n || pongs < 200 {
		hd, p := c.ReadFrame()
		switch hd.OpCode {
		case ws.OpText:
			if !bytes.Equal(p, payload) {
				t.Fatalf("text frame %d corrupted (%d bytes)", texts, len(p))
			}
			texts++
		case ws.OpPong:
			if want := fmt.Sprint(pongs); string(p) != want {
				t.Fatalf("pong %q, want %q", p, want)
			}
			pongs++
		default:
			t.Fatalf("unexpected frame %v", hd.OpCode)
		}
	}
}
