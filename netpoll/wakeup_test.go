package netpoll

import (
	"syscall"
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

// replySession answers every message on its connection from inside
// Message, as the core answers a command.
type replySession struct{ c *Conn }

func (s *replySession) Message(_ bool, p []byte) { s.c.Send(TextFrame(p)) }
func (s *replySession) Closed(int)               {}

// TestReplyNeedsNoSecondTurn: a reply sent during the turn that read the
// command leaves with that turn's write; the Send's request for a write
// must not put the connection back on the run queue for a turn that would
// find nothing to write (one more run-queue round trip, and often a wake-up
// of another worker, per command and per handshake).
func TestReplyNeedsNoSecondTurn(t *testing.T) {
	// A server without its workers, so that the run queue can be looked at.
	srv := &Server{opts: Options{Handler: acceptAll{}}.withDefaults(), coalesce: newCoalescer(0)}
	srv.runq = newRunq(srv.opts.MaxConns, 1)
	srv.live.Store(srv.opts.limits())
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fds[0]); _ = syscall.Close(fds[1]) })
	c := &Conn{srv: srv, fd: int32(fds[0])}
	c.session = &replySession{c: c}
	c.state.Store(stateOpen)
	w := newWorker(srv)
	if _, err := syscall.Write(fds[1], frame(true, ws.OpText, []byte("hello"), true)); err != nil {
		t.Fatal(err)
	}
	c.queued.Store(true) // taken from the run queue, as the epoll event would have put it there
	c.pending.Store(pendRead)
	w.run(c)
	buf := make([]byte, 64)
	n, err := syscall.Read(fds[1], buf)
	if err != nil || string(buf[:n]) != string(TextFrame([]byte("hello"))) {
		t.Fatalf("reply %q, %v; want the echo, written by the turn", buf[:n], err)
	}
	if len(srv.runq) != 0 || c.queued.Load() || c.pending.Load() != 0 {
		t.Fatalf("after the turn: %d on the run queue, queued %v, pending %#x; want none", len(srv.runq), c.queued.Load(), c.pending.Load())
	}
}
