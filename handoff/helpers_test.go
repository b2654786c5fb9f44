package handoff

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/fakesystemd"
	"golang.org/x/sys/unix"
)

// conns is n real loopback TCP connections: the clients stay in the test,
// the servers' descriptors are what a daemon would hand off.
type conns struct {
	clients []net.Conn
	servers []net.Conn
	fds     []int    // servers' raw descriptors, owned by servers
	keys    []string // SocketKey of each fds[i]
}

func connect(t *testing.T, n int) *conns {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	c := &conns{}
	t.Cleanup(func() {
		for _, x := range append(c.clients, c.servers...) {
			_ = x.Close()
		}
	})
	for range n {
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.clients = append(c.clients, cl)
		sv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.servers = append(c.servers, sv)
		fd := fakesystemd.RawFd(t, sv.(syscall.Conn))
		k, err := SocketKey(fd)
		if err != nil {
			t.Fatal(err)
		}
		c.fds, c.keys = append(c.fds, fd), append(c.keys, k)
	}
	return c
}

// expectGreetings reads, on every client, the line its server side's key
// makes: the new process wrote through the right socket.
func (c *conns) expectGreetings(t *testing.T) {
	t.Helper()
	for i, cl := range c.clients {
		_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(cl).ReadString('\n')
		if err != nil || line != c.keys[i]+"\n" {
			t.Fatalf("client %d read %q, %v; want %q", i, line, err, c.keys[i])
		}
	}
}

// expectAlive writes a byte through this process's copy of every server
// socket and reads it on the client: neither side saw a close.
func (c *conns) expectAlive(t *testing.T) {
	t.Helper()
	for i, fd := range c.fds {
		if err := writeAll(fd, []byte("p")); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
	buf := make([]byte, 1)
	for i, cl := range c.clients {
		_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := cl.Read(buf); err != nil || buf[0] != 'p' {
			t.Fatalf("client %d read %q, %v; want the byte, no EOF", i, buf, err)
		}
	}
}

// expectNonblocking checks O_NONBLOCK on every server socket: it belongs
// to the socket, shared with the store and the new process, and passing
// the socket on must not have turned it blocking under this process.
func (c *conns) expectNonblocking(t *testing.T) {
	t.Helper()
	for _, fd := range c.fds {
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
			t.Fatalf("descriptor %d: flags %#x, %v; want O_NONBLOCK", fd, fl, err)
		}
	}
}

// writeAll writes p to a socket that may be non-blocking, waiting (bounded)
// while its buffer is full.
func writeAll(fd int, p []byte) error {
	deadline := time.Now().Add(10 * time.Second)
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if errors.Is(err, unix.EAGAIN) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// childOptions runs this test binary in role.
func childOptions(role string) ChildOptions {
	return ChildOptions{
		Path:   os.Args[0],
		Env:    append(os.Environ(), envChild+"="+role),
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

func itoa(n int) string { return strconv.Itoa(n) }
