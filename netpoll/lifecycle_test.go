package netpoll

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/fdcount"
	"github.com/gobwas/ws"
)

func TestHeartbeatClosesSilentClientKeepsLiveOne(t *testing.T) {
	// The timeout is generous: a loaded 2-core machine under -race must not
	// turn the live client's prompt answers into misses.
	srv, h, addr := startServer(t, Options{PingInterval: 50 * time.Millisecond, PongTimeout: time.Second})
	silent, _ := connect(t, addr)
	silentSess := h.session(t, 0)
	live, _ := connect(t, addr)
	liveDone := make(chan int, 1)
	go func() { // answers every ping, as browsers do
		pings := 0
		for {
			hd, p, err := live.TryReadFrame(5 * time.Second)
			if err != nil || hd.OpCode == ws.OpClose {
				liveDone <- pings
				return
			}
			if hd.OpCode == ws.OpPing {
				pings++
				if _, err := live.NC.Write(frame(true, ws.OpPong, p, true)); err != nil {
					liveDone <- pings
					return
				}
			}
		}
	}()
	pings := 0
	for {
		hd, p := silent.ReadFrame()
		if hd.OpCode == ws.OpPing {
			pings++
			continue
		}
		if hd.OpCode != ws.OpClose || int(p[0])<<8|int(p[1]) != CloseHeartbeat {
			t.Fatalf("silent client got %v %q, want close %d", hd.OpCode, p, CloseHeartbeat)
		}
		break
	}
	if pings == 0 {
		t.Fatal("silent client was never pinged")
	}
	if code := silentSess.waitClosed(t); code != CloseHeartbeat {
		t.Fatalf("session closed with %d", code)
	}
	// The live client outlasts several ping intervals and a timeout.
	time.Sleep(1500 * time.Millisecond)
	if srv.Conns() != 1 || srv.Stats().HeartbeatTimeout != 1 {
		t.Fatalf("conns = %d, heartbeat closes = %d", srv.Conns(), srv.Stats().HeartbeatTimeout)
	}
	_ = live.NC.Close()
	if got := <-liveDone; got < 2 {
		t.Fatalf("live client answered %d pings", got)
	}
}

// TestHeartbeatAnsweredByAnyBytes: a client that never answers a ping with
// a pong but keeps sending messages is alive: the read path clears the
// outstanding ping whatever the bytes are.
func TestHeartbeatAnsweredByAnyBytes(t *testing.T) {
	srv, h, addr := startServer(t, Options{PingInterval: 20 * time.Millisecond, PongTimeout: 300 * time.Millisecond})
	busy, _ := connect(t, addr)
	sess := h.session(t, 0)
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := busy.NC.Write(frame(true, ws.OpText, []byte("x"), true)); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Conns() != 1 || srv.Stats().HeartbeatTimeout != 0 {
		t.Fatalf("conns = %d, heartbeat closes = %d", srv.Conns(), srv.Stats().HeartbeatTimeout)
	}
	for hd, _ := busy.ReadFrame(); hd.OpCode != ws.OpPing; hd, _ = busy.ReadFrame() { // past the echoes
		if hd.OpCode == ws.OpClose {
			t.Fatal("closed before any ping")
		}
	}
	if len(sess.messages()) == 0 {
		t.Fatal("no message delivered")
	}
}

func TestHandshakeLimits(t *testing.T) {
	t.Run("head over the cap gets 431", func(t *testing.T) {
		_, _, addr := startServer(t, Options{MaxHeaderBytes: 2048})
		c := dialRaw(t, addr)
		req := upgradeRequest("/ws", "X-Big: "+strings.Repeat("a", 4096)+"\r\n")
		c.Write([]byte(req))
		if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 431 ") {
			t.Fatalf("head = %q", head)
		}
		c.ExpectEOF()
	})
	t.Run("one endless header line gets 431", func(t *testing.T) {
		_, _, addr := startServer(t, Options{MaxHeaderBytes: 4096})
		c := dialRaw(t, addr)
		c.Write([]byte("GET /ws HTTP/1.1\r\nX: " + strings.Repeat("a", 64<<10)))
		if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 431 ") {
			t.Fatalf("head = %q", head)
		}
	})
	t.Run("slowloris is cut at the deadline", func(t *testing.T) {
		srv, _, addr := startServer(t, Options{HandshakeTimeout: 200 * time.Millisecond})
		c := dialRaw(t, addr)
		c.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n"))
		c.ExpectEOF()
		if srv.Stats().HandshakeTimeout != 1 {
			t.Fatalf("handshake timeouts = %d", srv.Stats().HandshakeTimeout)
		}
	})
	t.Run("bad version gets 426", func(t *testing.T) {
		_, _, addr := startServer(t, Options{})
		c := dialRaw(t, addr)
		c.Write([]byte(strings.Replace(upgradeRequest("/ws"), "Version: 13", "Version: 8", 1)))
		if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 426 ") {
			t.Fatalf("head = %q", head)
		}
	})
	t.Run("other path gets 404 without a handoff listener", func(t *testing.T) {
		_, _, addr := startServer(t, Options{})
		c := dialRaw(t, addr)
		c.Write([]byte(upgradeRequest("/elsewhere")))
		if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 404 ") {
			t.Fatalf("head = %q", head)
		}
	})
	t.Run("connection limit answers 503", func(t *testing.T) {
		_, _, addr := startServer(t, Options{MaxConns: 1})
		connect(t, addr)
		c := dialRaw(t, addr)
		if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 503 ") {
			t.Fatalf("head = %q", head)
		}
	})
}

func TestOtherPathsAreHandedToNetHTTP(t *testing.T) {
	srv, _, addr := startServer(t, Options{})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "served %s %s", r.Method, r.URL.Path)
	})}
	ln := srv.HTTPListener()
	go func() { _ = hs.Serve(ln) }()
	defer func() { _ = hs.Close() }()
	resp, err := http.Post("http://"+addr+"/v1/x", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	buf := make([]byte, 64)
	n, _ := resp.Body.Read(buf)
	if got := string(buf[:n]); got != "served POST /v1/x" {
		t.Fatalf("got %q", got)
	}
	if srv.Stats().HandedOff != 1 {
		t.Fatalf("handed off = %d", srv.Stats().HandedOff)
	}
}

// TestSocketsStayNonBlockingOneFdEach: every upgraded connection keeps
// O_NONBLOCK (nothing touched os.File) and costs one descriptor.
func TestSocketsStayNonBlockingOneFdEach(t *testing.T) {
	_, h, addr := startServer(t, Options{})
	// Only this server's sockets are counted: a descriptor another test
	// left closing meanwhile must not change the figure.
	before := countPortFds(t, addr)
	const n = 50
	for i := range n {
		c, _ := connect(t, addr)
		c.Write(text("x"))
		c.ReadFrame()
		_ = i
	}
	// n client sockets and n server sockets, all in this process; a dup
	// would be a second descriptor on a socket already counted.
	if got := countPortFds(t, addr) - before; got != 2*n {
		t.Fatalf("descriptors grew by %d for %d connections (want %d: one each side)", got, n, 2*n)
	}
	for i := range n {
		fd := h.session(t, i).c.Fd()
		if !nonBlocking(t, fd) {
			t.Fatalf("server socket fd %d lost O_NONBLOCK", fd)
		}
	}
}

func nonBlocking(t *testing.T, fd int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			return flags&0o4000 != 0 // O_NONBLOCK
		}
	}
	t.Fatalf("no flags in fdinfo of %d", fd)
	return false
}

// TestGoroutinesDoNotGrowWithConnections: the transport runs a fixed set of
// goroutines however many connections it holds.
func TestGoroutinesDoNotGrowWithConnections(t *testing.T) {
	_, _, addr := startServer(t, Options{Workers: 4})
	var conns []net.Conn
	open := func(n int) {
		for range n {
			c, _ := connect(t, addr)
			conns = append(conns, c.NC)
		}
	}
	open(10)
	base := runtime.NumGoroutine()
	open(500)
	if got := runtime.NumGoroutine(); got > base+2 {
		t.Fatalf("goroutines %d with 510 connections, %d with 10", got, base)
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	srv, h, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	s := h.session(t, 0)
	s.c.Send(TextFrame([]byte("last")))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx, CloseGoingAway, "bye")
	}()
	if _, p := c.ReadFrame(); string(p) != "last" {
		t.Fatalf("queued frame lost before close: %q", p)
	}
	if code := c.ReadClose(); code != CloseGoingAway {
		t.Fatalf("close code %d", code)
	}
	c.Write(frame(true, ws.OpClose, closeBody(CloseGoingAway, ""), true))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code := s.waitClosed(t); code != CloseGoingAway {
		t.Fatalf("session closed with %d", code)
	}
}

// TestSweeperNeverKillsAnUpgradedConnection: the sweeper may read a
// connection's state just before the upgrade finishes and its deadline just
// after it was cleared. That interleaving once killed fresh connections
// (clients saw EOF right after 101); a cleared deadline means none.
func TestSweeperNeverKillsAnUpgradedConnection(t *testing.T) {
	srv, _, _ := startServer(t, Options{})
	c := &Conn{srv: srv, fd: 1 << 16}
	c.state.Store(stateHandshake)
	c.deadline.Store(0)
	if srv.register(c) != nil {
		t.Fatal("register failed")
	}
	defer srv.unregister(c)
	srv.sweepOnce(srv.now() + int64(time.Hour))
	if n := srv.Stats().HandshakeTimeout; n != 0 {
		t.Fatal("the sweeper killed a connection whose handshake deadline was cleared")
	}
	c.deadline.Store(1) // a real deadline, long past: this one must go
	srv.sweepOnce(srv.now() + int64(time.Hour))
	if n := srv.Stats().HandshakeTimeout; n != 1 {
		t.Fatalf("handshake timeouts %d after a passed deadline, want 1", n)
	}
}

// countPortFds counts this process's descriptors on addr's sockets.
func countPortFds(t *testing.T, addr string) int {
	t.Helper()
	n, err := fdcount.OnPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
