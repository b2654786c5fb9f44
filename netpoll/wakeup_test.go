package netpoll

import (
	"testing"

	"github.com/gobwas/ws"
)

// TestNoEmptyReadAfterWakeup: a message that arrives in one segment is read
// with one system call. The worker used to read again until EAGAIN, one
// empty read() per wake-up; a short read already says the socket is
// drained, and the next bytes bring a new edge-triggered event. An edge
// can still find its bytes read already by the turn that was running when
// they came (about one run in thirty under -race, on the code before and
// after the hand-off work alike): the old behaviour is one empty read per
// message, 20 here, so a few are tolerated and a read per wake-up is not.
func TestNoEmptyReadAfterWakeup(t *testing.T) {
	srv, _, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	for i := range 20 {
		c.Write(frame(true, ws.OpText, []byte("hello"), true))
		if h, p := c.ReadFrame(); h.OpCode != ws.OpText || string(p) != "hello" {
			t.Fatalf("echo %d: %v %q", i, h.OpCode, p)
		}
	}
	if n := srv.stats.emptyReads.Load(); n > 3 {
		t.Fatalf("%d empty reads for 20 messages, want at most 3 (not one a wake-up)", n)
	}
}

// TestPeerCloseAfterDataStillSeen: data and FIN arriving together are one
// edge; the short read must not leave the FIN unread.
func TestPeerCloseAfterDataStillSeen(t *testing.T) {
	_, h, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	s := h.session(t, 0)
	c.Write(frame(true, ws.OpText, []byte("bye"), true))
	_ = c.NC.Close()
	if code := s.waitClosed(t); code != CloseAbnormal {
		t.Fatalf("closed with %d, want %d", code, CloseAbnormal)
	}
}
