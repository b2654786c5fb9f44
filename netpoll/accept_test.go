package netpoll

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// TestAccept4: the raw accept gives the peer's address as the client sees
// its own, for IPv4 and IPv6, without an allocation.
func TestAccept4(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v (skipped)", addr, err)
			continue
		}
		t.Cleanup(func() { _ = ln.Close() })
		lfd := listenerFd(ln)
		dial := func() net.Conn {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		accept := func() netip.AddrPort {
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				fd, peer, err := accept4(lfd)
				if err == nil {
					_ = syscall.Close(fd)
					return peer
				}
				if err != syscall.EAGAIN || time.Now().After(deadline) {
					t.Fatal(err)
				}
			}
		}
		c := dial()
		if got, want := accept(), c.LocalAddr().(*net.TCPAddr).AddrPort(); got != want {
			t.Fatalf("%s: peer %v, want %v", addr, got, want)
		}
		for range 11 { // AllocsPerRun(10) runs 11 times
			dial()
		}
		if a := testing.AllocsPerRun(10, func() { _ = accept() }); a != 0 {
			t.Errorf("%s: %v allocations per accept, want 0", addr, a)
		}
	}
}
