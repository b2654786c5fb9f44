package systemd

import (
	"net"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/internal/fakesystemd"
	"golang.org/x/sys/unix"
)

// connectedPair returns a client connection and the accepted server side.
func connectedPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	return client, server
}

// The fd store passes the hand-off's descriptors (a connection, the state
// memfd) in the same LISTEN_FDS as the socket unit's listeners: Listeners
// must take its own and leave those open and untouched.
func TestListenersSkipsHandoffDescriptors(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tcp.Close() }()
	client, server := connectedPair(t)
	memfd, err := unix.MemfdCreate("fanoutd-state", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(memfd) }()
	first := fakesystemd.PassFds(t, fakesystemd.RawFd(t, server.(*net.TCPConn)), fakesystemd.RawFd(t, tcp.(*net.TCPListener)), memfd)
	defer func() { _ = unix.Close(first); _ = unix.Close(first + 2) }()

	lns, err := listeners(activationEnv(3, "fconn:websocket:fanoutd-state"), testPID, first, handoff.IsHandoffName)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	if len(lns) != 1 || lns[0].Name != "websocket" {
		t.Fatalf("got %+v, want the websocket listener only", lns)
	}
	if !fakesystemd.IsOpen(first) || !fakesystemd.IsOpen(first+2) {
		t.Fatal("a hand-off descriptor was closed")
	}
	if fakesystemd.IsOpen(first + 1) {
		t.Error("the listener's passed descriptor was left open")
	}
	if _, err := unix.Write(first, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 10)
	if _, err := client.Read(buf); err != nil || string(buf) != "still here" {
		t.Fatalf("read %q, %v through the skipped connection", buf, err)
	}
}

// On an error, Listeners closes what it would have taken, never the
// hand-off's descriptors.
func TestListenersErrorKeepsHandoffDescriptors(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = udp.Close() }()
	_, server := connectedPair(t)
	first := fakesystemd.PassFds(t, fakesystemd.RawFd(t, udp.(*net.UDPConn)), fakesystemd.RawFd(t, server.(*net.TCPConn)))
	defer func() { _ = unix.Close(first + 1) }()

	if _, err := listeners(activationEnv(2, "websocket:fanoutd-listen-ws"), testPID, first, handoff.IsHandoffName); err == nil {
		t.Fatal("a UDP socket was taken as a listener")
	}
	if fakesystemd.IsOpen(first) {
		t.Error("the refused descriptor was left open")
	}
	if !fakesystemd.IsOpen(first + 1) {
		t.Error("the hand-off's connection was closed")
	}
}
