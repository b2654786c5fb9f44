package netpoll

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestAcceptedNetConnHeldUntilClosed: a connection accepted through a
// listener without a raw descriptor keeps its net.Conn in the server's side
// map (not in Conn): the collector does not close the socket under it, its
// address is the net.Conn's, and the entry goes when the connection does.
func TestAcceptedNetConnHeldUntilClosed(t *testing.T) {
	h := &testHandler{echo: true}
	srv, err := NewServer(Options{Handler: h, PingInterval: time.Hour, CloseTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := struct{ net.Listener }{tl} // hides the descriptor: Serve uses Accept
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Release(); _ = tl.Close() })

	c, _ := connect(t, tl.Addr().String())
	s := h.session(t, 0)
	held := func() int {
		n := 0
		srv.netConns.Range(func(any, any) bool { n++; return true })
		return n
	}
	if held() != 1 {
		t.Fatalf("%d net.Conns held, want 1", held())
	}
	for range 3 { // a finalizer would close an unreferenced net.Conn's socket
		runtime.GC()
	}
	c.Write(text("still here"))
	expectText(t, c, "still here")
	if got, want := s.c.RemoteAddr().String(), c.NC.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr %s, want the client's %s", got, want)
	}
	_ = c.NC.Close()
	s.waitClosed(t)
	deadline := time.Now().Add(5 * time.Second)
	for held() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if held() != 0 {
		t.Fatalf("%d net.Conns held after the connection closed, want 0", held())
	}
}

// TestAcceptedSocketsNoDelay: sockets accepted raw have TCP_NODELAY (set
// once on the listener, which Linux copies into what it accepts): a small
// event must not wait for the previous one's acknowledgement.
func TestAcceptedSocketsNoDelay(t *testing.T) {
	_, h, addr := startServer(t, Options{})
	for i := range 2 {
		connect(t, addr)
		fd := h.session(t, i).c.Fd()
		v, err := syscall.GetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
		if err != nil || v == 0 {
			t.Fatalf("connection %d: TCP_NODELAY %d, %v; want it on", i, v, err)
		}
	}
}
