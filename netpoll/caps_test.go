package netpoll

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveHTTP runs an http.Server with keep-alive on the transport's hand-off
// listener, answering every request 200.
func serveHTTP(t *testing.T, srv *Server) {
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}), ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}
	ln := srv.HTTPListener()
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
}

// httpFrom opens a connection from the local address from, sends one
// keep-alive GET /healthz and returns the status and the connection, left
// open as an idle keep-alive client would.
func httpFrom(t *testing.T, from, addr string) (int, net.Conn) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return 0, nc // refused before the request was read: the reset counts as a refusal
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0, nc
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nc
}

// TestHTTPConnectionsCountAgainstTheCaps: connections handed to net/http
// count against MaxConns and MaxConnsPerIP like WebSockets, until net/http
// closes them. With caps of 40 and 5 per address, 300 idle keep-alive
// requests from one address leave 5 open; the others are refused with 429.
func TestHTTPConnectionsCountAgainstTheCaps(t *testing.T) {
	srv, _, addr := startServer(t, Options{MaxConns: 40, MaxConnsPerIP: 5})
	serveHTTP(t, srv)
	statuses := map[int]int{}
	for range 300 {
		code, _ := httpFrom(t, "127.0.0.1", addr)
		statuses[code]++
	}
	if statuses[200] != 5 || statuses[429] != 295 {
		t.Fatalf("statuses %v: want 5×200 and 295×429", statuses)
	}
	if st := srv.Stats(); st.HTTPConns != 5 || st.RejectedPerIP != 295 {
		t.Fatalf("http conns %d, refused per address %d", st.HTTPConns, st.RejectedPerIP)
	}
	// Another address is not held back by the first one's connections.
	if code, _ := httpFrom(t, "127.0.0.2", addr); code != 200 {
		t.Fatalf("from another address: %d", code)
	}
	// A WebSocket from the full address is refused too: the caps count
	// sockets, whatever they became.
	c := dialRaw(t, addr)
	c.Write([]byte(upgradeRequest("/ws")))
	if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 429 ") {
		t.Fatalf("upgrade from the full address: %q", head)
	}
}

// TestHTTPKeepsAReserveForWebSockets: handed-off connections may take at
// most MaxHTTPConns (three quarters of MaxConns by default); past it a
// request is answered 503 and closed, so idle HTTP clients can never take
// the slots an upgrade needs. A slot comes back when net/http closes its
// connection.
func TestHTTPKeepsAReserveForWebSockets(t *testing.T) {
	srv, _, addr := startServer(t, Options{MaxConns: 40})
	serveHTTP(t, srv)
	statuses := map[int]int{}
	var held []net.Conn
	for i := range 60 {
		code, nc := httpFrom(t, fmt.Sprintf("127.0.0.%d", 1+i%20), addr)
		statuses[code]++
		if code == 200 {
			held = append(held, nc)
		}
	}
	if statuses[200] != 30 || statuses[503] != 30 {
		t.Fatalf("statuses %v: want 30×200 and 30×503", statuses)
	}
	for i := range 10 {
		c, head := connect(t, addr)
		if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
			t.Fatalf("upgrade %d beside the idle HTTP clients: %q", i, head)
		}
		_ = c
	}
	_ = held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().HTTPConns != 29 {
		if time.Now().After(deadline) {
			t.Fatalf("http conns %d after one closed, want 29", srv.Stats().HTTPConns)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, _ := httpFrom(t, "127.0.0.1", addr); code != 200 {
		t.Fatalf("after a slot came back: %d", code)
	}
}
