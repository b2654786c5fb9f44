package fanoutd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/fdcount"
	"github.com/fanoutd/fanoutd/internal/wstest"
)

// childClientsEnv makes the test binary a client process (see TestMain):
// connections opened by a child do not count in this process's descriptors.
const childClientsEnv = "FANOUTD_TEST_CHILD_ADDR"

// TestThousandsOfConnectionsCostNoGoroutinesOneFdEach holds 5,000
// authenticated, subscribed connections: the daemon's goroutine count stays
// what it was with 10, and /proc/self/fd grows by exactly one per connection.
func TestThousandsOfConnectionsCostNoGoroutinesOneFdEach(t *testing.T) {
	if testing.Short() {
		t.Log("-short: holding 500 connections instead of 5,000")
	}
	total := 5000
	if testing.Short() {
		total = 500
	}
	d := startDaemon(t, func(c *config.Config) {
		c.Limits.MaxConnections = total + 100
		// The child's raw clients do not answer pings: on a slow run a
		// heartbeat would close them before they are counted.
		c.Heartbeat.Interval = time.Hour
	})
	child := startChildClients(t, d.addr, token(t, "load", "room:*"))

	child.open(10)
	d.waitConns(10)
	// Only the daemon's sockets on its port: a descriptor another test
	// left closing meanwhile must not move the figure.
	baseG, baseFD := runtime.NumGoroutine(), portFdCount(t, d.addr)

	child.open(total - 10)
	d.waitConns(int64(total))
	g, fd := runtime.NumGoroutine(), portFdCount(t, d.addr)
	t.Logf("%d conns: goroutines %d -> %d, fds %d -> %d", total, baseG, g, baseFD, fd)
	if g > baseG+3 {
		t.Errorf("goroutines grew from %d to %d with %d more connections", baseG, g, total-10)
	}
	if got := fd - baseFD; got < total-10 || got > total-10+3 {
		t.Errorf("descriptors grew by %d for %d connections, want one each", got, total-10)
	}
	before := d.srv.Stats().Delivered
	d.publish("room:all", "hello", `{"n":1}`)
	if got := d.srv.Stats().Delivered - before; got != uint64(total) {
		t.Errorf("one publish delivered %d times, want %d", got, total)
	}
	child.stop()
	d.waitConns(0)
}

type childClients struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startChildClients(t *testing.T, addr, tok string) *childClients {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childClientsEnv+"="+addr, "FANOUTD_TEST_CHILD_TOKEN="+tok)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &childClients{t: t, cmd: cmd, in: in, out: bufio.NewScanner(out)}
	t.Cleanup(c.stop)
	return c
}

func (c *childClients) open(n int) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.in, "open %d\n", n); err != nil {
		c.t.Fatal(err)
	}
	if !c.out.Scan() || !strings.HasPrefix(c.out.Text(), "ok ") {
		c.t.Fatalf("child: %q %v", c.out.Text(), c.out.Err())
	}
}

func (c *childClients) stop() {
	if c.in != nil {
		_ = c.in.Close()
		_ = c.cmd.Wait()
		c.in = nil
	}
}

func (d *testDaemon) waitConns(n int64) {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := d.srv.Stats()
		if st.Connections == n && st.Transport.Conns == int(n) && (n == 0 || st.Subscriptions == n) {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("waiting for %d connections: %+v", n, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// portFdCount counts this process's descriptors on addr's sockets (the
// clients are in a child process: these are the daemon's).
func portFdCount(t *testing.T, addr string) int {
	t.Helper()
	n, err := fdcount.OnPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func fdCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// runChildClients is the client process: "open N" on stdin opens N
// authenticated connections subscribed to room:all and answers "ok N"; it
// holds them until stdin closes.
func runChildClients(addr string) int {
	tok := os.Getenv("FANOUTD_TEST_CHILD_TOKEN")
	sub := wstest.Text(`{"action":"subscribe","channel":"room:all"}`)
	var conns []net.Conn
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(in.Text(), "open "))
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: bad command", in.Text())
			return 2
		}
		for range n {
			c, err := openClient(addr, tok, sub)
			if err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return 1
			}
			conns = append(conns, c)
		}
		fmt.Printf("ok %d\n", len(conns))
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return 0
}

func openClient(addr, tok string, sub []byte) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := wstest.UpgradeRequest("/ws", "Authorization: Bearer "+tok+"\r\n")
	if _, err := io.WriteString(nc, req); err != nil {
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReaderSize(nc, 256)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		return nil, fmt.Errorf("upgrade: %q %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	_, err = nc.Write(sub)
	return nc, err
}
