package netpoll

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAdoptRefusesBadDescriptors: a pipe, a closed descriptor and a
// listening socket fail with ErrNotConn and leak nothing; a bind error
// closes the socket.
func TestAdoptRefusesBadDescriptors(t *testing.T) {
	b, _, addr := startServer(t, Options{})
	bind := func(c *Conn) (Session, error) { return &testSession{c: c, closed: make(chan int, 1)}, nil }
	c := dialRaw(t, addr)
	c.Write([]byte(upgradeRequest("/ws")))
	c.ReadHead()
	before := openFds(t)
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Close(p[1])
	if _, err := b.Adopt(ConnState{Fd: p[0]}, bind); !errors.Is(err, ErrNotConn) || !errors.Is(err, syscall.ENOTSOCK) {
		t.Fatalf("pipe: %v", err)
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0); err != syscall.EBADF {
		t.Fatalf("the pipe was not closed: %v", err)
	}
	if _, err := b.Adopt(ConnState{Fd: p[0]}, bind); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("closed fd: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lfd := dupFd(t, listenerFd(ln))
	_ = ln.Close()
	if _, err := b.Adopt(ConnState{Fd: lfd}, bind); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("listener: %v", err)
	}
	// A live connection whose bind fails: closed, not counted.
	src := b.adoptSource(t)
	_, err = b.Adopt(ConnState{Fd: dupFd(t, src.c.Fd())}, func(*Conn) (Session, error) { return nil, fmt.Errorf("no") })
	if err == nil || err.Error() != "no" {
		t.Fatalf("bind error: %v", err)
	}
	if _, err := b.Adopt(ConnState{Fd: dupFd(t, src.c.Fd())}, nil); err == nil {
		t.Fatal("an open connection adopted without bind")
	}
	if b.Conns() != 1 || b.Stats().Adopted != 0 {
		t.Fatalf("conns %d adopted %d", b.Conns(), b.Stats().Adopted)
	}
	if got := openFds(t); got != before {
		t.Fatalf("open descriptors: %d before, %d after", before, got)
	}
}

// adoptSource is the first session of b's own handler.
func (s *Server) adoptSource(t *testing.T) *testSession {
	return s.opts.Handler.(*testHandler).session(t, 0)
}

func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestAdoptCountsInTheCaps: adopted connections count against MaxConns
// like accepted ones; one over it is refused with ErrConnLimit and its
// socket closed.
func TestAdoptCountsInTheCaps(t *testing.T) {
	a, _, addr := startServer(t, Options{})
	b, hb, _ := startServer(t, Options{MaxConns: 1})
	one, _ := connect(t, addr)
	two, _ := connect(t, addr)
	sts := freezeWhen(t, a, func(s []ConnState) bool { return len(s) == 2 })
	bind := func(c *Conn) (Session, error) { return hb.Accept(c, &Request{}) }
	var refused int
	for _, st := range sts {
		st.Fd = dupFd(t, st.Fd)
		if _, err := b.Adopt(st, bind); errors.Is(err, ErrConnLimit) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused != 1 || b.Conns() != 1 || b.Stats().Adopted != 1 {
		t.Fatalf("refused %d, B holds %d, adopted %d", refused, b.Conns(), b.Stats().Adopted)
	}
	a.Release()
	// One client is on B; the other's last descriptor is gone: it sees the end.
	one.Write(text("x"))
	two.Write(text("x"))
	served, ended := 0, 0
	for _, c := range []*rawClient{one, two} {
		if _, p, err := c.TryReadFrame(5 * time.Second); err == nil && string(p) == "x" {
			served++
		} else {
			ended++
		}
	}
	if served != 1 || ended != 1 {
		t.Fatalf("%d clients served, %d ended", served, ended)
	}
}
