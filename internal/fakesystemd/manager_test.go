package fakesystemd

import (
	"bytes"
	"context"
	"maps"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// notify sends one datagram with fds to m, as sd_pid_notify_with_fds does.
func notify(t *testing.T, m *Manager, state string, fds ...int) {
	t.Helper()
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(s) }()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(s, []byte(state), oob, &unix.SockaddrUnix{Name: m.socket}, 0); err != nil {
		t.Fatal(err)
	}
}

// flush makes sure every datagram sent before has been handled.
func flush(t *testing.T, m *Manager, marker string) {
	t.Helper()
	notify(t, m, marker)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.WaitState(ctx, marker); err != nil {
		t.Fatal(err)
	}
}

func sockets(t *testing.T, n int) []int {
	t.Helper()
	var fds []int
	for range n {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unix.Close(p[0]); _ = unix.Close(p[1]) })
		fds = append(fds, p[0])
	}
	return fds
}

func TestStoreProtocol(t *testing.T) {
	m := New(t, Options{StoreMax: 300})
	fds := sockets(t, 352)
	notify(t, m, "FDSTORE=1\nFDNAME=conn", fds[:253]...)
	notify(t, m, "FDSTORE=1\nFDNAME=conn", fds[0], fds[1]) // already stored: dropped
	notify(t, m, "FDSTORE=1", fds[253])                    // no name: "stored"
	notify(t, m, "STATUS=no store", fds[254])              // not stored
	flush(t, m, "X_SYNC=1")
	if got, want := m.Stored(), map[string]int{"conn": 253, "stored": 1}; !maps.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	notify(t, m, "FDSTOREREMOVE=1\nFDNAME=conn")
	notify(t, m, "FDSTORE=1\nFDNAME=more", fds[:50]...)
	flush(t, m, "X_SYNC=2")
	if got, want := m.Stored(), map[string]int{"more": 50, "stored": 1}; !maps.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	notify(t, m, "FDSTORE=1\nFDNAME=more", fds[50:253]...)
	notify(t, m, "FDSTORE=1\nFDNAME=more", fds[255:352]...)
	flush(t, m, "X_SYNC=3")
	if got := m.Stored()["more"]; got != 299 || m.Dropped() != 51 {
		t.Fatalf("stored %d, dropped %d; want 299 and 51 beyond FDSTORE=300", got, m.Dropped())
	}
}

// Start passes listeners then the store from fd 3 with LISTEN_* set as
// systemd does, LISTEN_PID being the program's own pid.
func TestStartPassesDescriptors(t *testing.T) {
	m := New(t)
	fds := sockets(t, 2)
	notify(t, m, "FDSTORE=1\nFDNAME=fanoutd-conn", fds...)
	flush(t, m, "X_SYNC=1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lf.Close() }()
	cmd := exec.Command("/bin/sh", "-c", `echo "$$ $LISTEN_PID $LISTEN_FDS $LISTEN_FDNAMES $FDSTORE"; for i in 3 4 5 6; do [ -e /proc/$$/fd/$i ] && echo "fd$i"; done; true`)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := m.Start(cmd, NamedFile{Name: "ws", File: lf}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	f := strings.Fields(lines[0])
	if len(f) != 5 || f[0] != f[1] || f[0] != strconv.Itoa(cmd.Process.Pid) || f[2] != "3" || f[3] != "ws:fanoutd-conn:fanoutd-conn" || f[4] != "20000" {
		t.Fatalf("environment %q, want pid pid 3 ws:fanoutd-conn:fanoutd-conn 20000 (pid %d)", lines[0], cmd.Process.Pid)
	}
	if got := strings.Join(lines[1:], " "); got != "fd3 fd4 fd5" {
		t.Fatalf("descriptors %q, want fd3 fd4 fd5", got)
	}
	if m.Stored()["fanoutd-conn"] != 2 {
		t.Fatal("Start emptied the store; systemd keeps it until FDSTOREREMOVE")
	}
}

// WaitState sees only what arrived after the last Start.
func TestWaitState(t *testing.T) {
	m := New(t)
	notify(t, m, "READY=1")
	flush(t, m, "X_SYNC=1")
	if err := m.Start(exec.Command("/bin/true")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.WaitState(ctx, "READY=1"); err == nil {
		t.Fatal("READY=1 from before Start counted")
	}
	notify(t, m, "STATUS=up\nREADY=1")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := m.WaitState(ctx2, "READY=1"); err != nil {
		t.Fatal(err)
	}
}
