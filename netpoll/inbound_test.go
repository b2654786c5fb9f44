package netpoll

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestConnSize: every held connection costs its Conn, idle or not, so the
// state of input still arriving lives in inbound and Conn stays in the
// 192-byte size class (with that state inline it was 456 bytes, in the
// 480-byte class; then 288 until a listener's net.Conn moved to a side
// map and the fields were packed; then 256 until the write queue's counts
// became int32, the peer address a 19-byte peerAddr, the heartbeat's three
// clocks one (Conn.ping) and the closing flags bits).
func TestConnSize(t *testing.T) {
	size := reflect.TypeFor[Conn]().Size()
	if size > 192 {
		t.Fatalf("Conn is %d bytes, want at most 192", size)
	}
	t.Logf("Conn: %d bytes; inbound: %d bytes", size, reflect.TypeFor[inbound]().Size())
}

// TestIdleConnHoldsNoInput: a connection holds inbound state while a frame
// or a message is incomplete, and none once it is whole: not after the
// handshake, nor after a fragmented message cut across reads.
func TestIdleConnHoldsNoInput(t *testing.T) {
	srv, h, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	s := h.session(t, 0)
	// held looks under a freeze, which waits for the turn under way.
	held := func() bool {
		t.Helper()
		if err := srv.Freeze(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer srv.Resume()
		return s.c.in != nil
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	if held() {
		t.Fatal("inbound state held after the handshake")
	}
	first := frame(false, ws.OpText, []byte("hello "), true)
	last := frame(true, ws.OpContinuation, []byte("world"), true)
	c.Write(first[:3]) // a header cut short
	until("no inbound state for a partial header", held)
	c.Write(first[3:])
	c.Write(last[:9]) // the second frame's header and part of its payload
	c.Write(last[9:])
	until("message not delivered", func() bool { return slices.Equal(s.messages(), []string{"false:hello world"}) })
	if held() {
		t.Fatal("inbound state held after the message was delivered")
	}
}
