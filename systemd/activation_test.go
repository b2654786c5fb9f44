package systemd

import (
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/internal/fakesystemd"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

const testPID = 4242

func activationEnv(n int, names string) func(string) string {
	return env(map[string]string{"LISTEN_PID": strconv.Itoa(testPID), "LISTEN_FDS": strconv.Itoa(n), "LISTEN_FDNAMES": names})
}

func TestListenersTakesPassedSockets(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tcp.Close() }()
	path := filepath.Join(t.TempDir(), "p.sock")
	uln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = uln.Close() }()
	first := fakesystemd.PassFds(t, fakesystemd.RawFd(t, tcp.(*net.TCPListener)), fakesystemd.RawFd(t, uln.(*net.UnixListener)))

	lns, err := listeners(activationEnv(2, "websocket:publish"), testPID, first, handoff.IsHandoffName)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	if len(lns) != 2 || lns[0].Name != "websocket" || lns[1].Name != "publish" {
		t.Fatalf("got %+v", lns)
	}
	if _, ok := lns[0].Listener.(*net.TCPListener); !ok {
		t.Errorf("fd %d: %T, want *net.TCPListener", first, lns[0].Listener)
	}
	if _, ok := lns[1].Listener.(*net.UnixListener); !ok {
		t.Errorf("fd %d: %T, want *net.UnixListener", first+1, lns[1].Listener)
	}
	if fakesystemd.IsOpen(first) || fakesystemd.IsOpen(first+1) {
		t.Error("the passed descriptors were left open")
	}
	// The listener is the manager's socket: a client of the original
	// address is accepted on it.
	c, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	sc, err := lns[0].Accept()
	if err != nil {
		t.Fatal(err)
	}
	_ = sc.Close()
}

func TestListenersIgnoresAnotherProcesssVariables(t *testing.T) {
	for name, getenv := range map[string]func(string) string{
		"not activated":    env(nil),
		"another process":  env(map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "2"}),
		"no sockets given": activationEnv(0, ""),
	} {
		lns, err := listeners(getenv, testPID, 200, handoff.IsHandoffName)
		if err != nil || lns != nil {
			t.Errorf("%s: %v, %v; want nothing", name, lns, err)
		}
	}
}

func TestListenersRejectsMalformedVariables(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"LISTEN_PID": {"LISTEN_PID": "me", "LISTEN_FDS": "1"},
		"LISTEN_FDS": {"LISTEN_PID": strconv.Itoa(testPID), "LISTEN_FDS": "two"},
	} {
		_, err := listeners(env(vars), testPID, 200, handoff.IsHandoffName)
		if !errors.Is(err, ErrMalformedEnv) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want ErrMalformedEnv naming it", name, err)
		}
	}
}

// A socket unit with Accept=yes, or a datagram socket, passes descriptors
// that no Accept can serve: refuse them at start, leaving nothing open.
func TestListenersRefusesANonListeningSocket(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tcp.Close() }()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = udp.Close() }()
	first := fakesystemd.PassFds(t, fakesystemd.RawFd(t, udp.(*net.UDPConn)), fakesystemd.RawFd(t, tcp.(*net.TCPListener)))

	lns, err := listeners(activationEnv(2, "websocket:publish"), testPID, first, handoff.IsHandoffName)
	if err == nil {
		t.Fatalf("a UDP socket was taken as a listener: %v", lns)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(first)) || !strings.Contains(err.Error(), "websocket") {
		t.Errorf("error does not name the descriptor: %v", err)
	}
	if fakesystemd.IsOpen(first) || fakesystemd.IsOpen(first+1) {
		t.Error("descriptors left open after the error")
	}
}

func TestListenersWithoutNames(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tcp.Close() }()
	first := fakesystemd.PassFds(t, fakesystemd.RawFd(t, tcp.(*net.TCPListener)))
	lns, err := listeners(activationEnv(1, ""), testPID, first, handoff.IsHandoffName)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lns[0].Close() }()
	if len(lns) != 1 || lns[0].Name != "" {
		t.Fatalf("got %+v, want one unnamed listener", lns)
	}
}
