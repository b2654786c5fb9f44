package handoff

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fanoutd/fanoutd/internal/fakesystemd"
	"golang.org/x/sys/unix"
)

func TestSocketKeyConnected(t *testing.T) {
	cs := connect(t, 1)
	server := cs.keys[0]
	client, err := SocketKey(fakesystemd.RawFd(t, cs.clients[0].(syscall.Conn)))
	if err != nil {
		t.Fatal(err)
	}
	want := "tcp " + cs.servers[0].LocalAddr().String() + "->" + cs.servers[0].RemoteAddr().String()
	if server != want {
		t.Fatalf("server key %q, want %q", server, want)
	}
	if mirror := "tcp " + cs.clients[0].LocalAddr().String() + "->" + cs.clients[0].RemoteAddr().String(); client != mirror {
		t.Fatalf("client key %q, want %q", client, mirror)
	}
}

// TestConnKeyIsSocketKey: the key built from a connection's known ends is
// the one SocketKey reads from the kernel, IPv4-mapped or not.
func TestConnKeyIsSocketKey(t *testing.T) {
	cs := connect(t, 1)
	local := cs.servers[0].LocalAddr().(*net.TCPAddr).AddrPort()
	peer := cs.servers[0].RemoteAddr().(*net.TCPAddr).AddrPort()
	if got := ConnKey(local, peer); got != cs.keys[0] {
		t.Fatalf("ConnKey = %q, SocketKey = %q", got, cs.keys[0])
	}
	mapped := func(a netip.AddrPort) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
	}
	if got := ConnKey(mapped(local), mapped(peer)); got != cs.keys[0] {
		t.Fatalf("ConnKey of IPv4-mapped ends = %q, SocketKey = %q", got, cs.keys[0])
	}
}

func TestSocketKeyIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err) // not counted as a pass of anything else
	}
	defer func() { _ = ln.Close() }()
	k, err := SocketKey(fakesystemd.RawFd(t, ln.(*net.TCPListener)))
	if err != nil || k != "listen tcp "+ln.Addr().String() {
		t.Fatalf("key %q, %v", k, err)
	}
}

func TestSocketKeyListeners(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tcp.Close() }()
	path := filepath.Join(t.TempDir(), "s")
	uln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = uln.Close() }()
	for fd, want := range map[int]string{
		fakesystemd.RawFd(t, tcp.(*net.TCPListener)):  "listen tcp " + tcp.Addr().String(),
		fakesystemd.RawFd(t, uln.(*net.UnixListener)): "listen unix " + path,
	} {
		if k, err := SocketKey(fd); err != nil || k != want {
			t.Errorf("key %q, %v; want %q", k, err, want)
		}
	}
}

func TestSocketKeyErrors(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(p[0]); _ = unix.Close(p[1]) }()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = udp.Close() }()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(sp[0]); _ = unix.Close(sp[1]) }()
	unbound, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(unbound) }()
	closed, err := unix.Dup(p[0])
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.Close(closed)
	for name, fd := range map[string]int{
		"closed": closed, "pipe": p[0], "udp": fakesystemd.RawFd(t, udp.(*net.UDPConn)),
		"unix pair": sp[0], "unconnected": unbound,
	} {
		k, err := SocketKey(fd)
		if err == nil || !strings.Contains(err.Error(), "socket key") {
			t.Errorf("%s: key %q, %v; want an error", name, k, err)
		}
	}
}
