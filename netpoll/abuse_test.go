package netpoll

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// echoRoundTrip upgrades a fresh client, sends one text message and waits
// for its echo within d.
func echoRoundTrip(t *testing.T, addr, msg string, d time.Duration) {
	t.Helper()
	c, head := connect(t, addr)
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade head = %q", head)
	}
	c.Write(text(msg))
	hd, p, err := c.TryReadFrame(d)
	if err != nil {
		t.Fatalf("echo of %q: %v", msg, err)
	}
	if hd.OpCode != ws.OpText || string(p) != msg {
		t.Fatalf("echo = %v %q, want %q", hd.OpCode, p, msg)
	}
}

// TestTenThousandHeaders: 10,000 short header lines (about 90 KiB) are
// answered 431 and the connection is closed; a normal client upgrades and
// is echoed right after.
func TestTenThousandHeaders(t *testing.T) {
	srv, _, addr := startServer(t, Options{})
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\nHost: test\r\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "X-a%d: b\r\n", i)
	}
	b.WriteString("\r\n")
	req := b.String()

	c := dialRaw(t, addr)
	// The server may answer and close before the whole request is read, so
	// a failed write is expected; the answer is what counts.
	writeErr := make(chan error, 1)
	go func() {
		_ = c.NC.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := io.WriteString(c.NC, req)
		writeErr <- err
	}()
	if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 431 ") {
		t.Fatalf("head = %q", head)
	}
	c.ExpectEOF()
	<-writeErr
	if st := srv.Stats(); st.Rejected != 1 || st.Upgraded != 0 {
		t.Fatalf("rejected = %d, upgraded = %d", st.Rejected, st.Upgraded)
	}

	echoRoundTrip(t, addr, "still here", 5*time.Second)
	if st := srv.Stats(); st.Upgraded != 1 {
		t.Fatalf("upgraded = %d", st.Upgraded)
	}
}

// TestOneMiBHeaderLine: a 1 MiB header line sent in 16 KiB chunks is
// answered 431 within the handshake deadline as soon as the head passes
// MaxHeaderBytes, the socket is closed, and the rest of the MiB is refused:
// the server never buffers more than MaxHeaderBytes (plus one read).
func TestOneMiBHeaderLine(t *testing.T) {
	srv, _, addr := startServer(t, Options{HandshakeTimeout: 2 * time.Second})
	c := dialRaw(t, addr)
	start := time.Now()
	chunk := bytes.Repeat([]byte("a"), 16<<10)
	_ = c.NC.SetWriteDeadline(time.Now().Add(10 * time.Second))
	sent := 0
	write := func(b []byte) error {
		n, err := c.NC.Write(b)
		sent += n
		return err
	}
	// The request line, the start of the line and two chunks: just over the
	// 16 KiB cap, far below the MiB.
	if err := write([]byte("GET /ws HTTP/1.1\r\nHost: test\r\nX-Big: ")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 431 ") {
		t.Fatalf("head = %q", head)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("431 after %v, past the 2 s handshake deadline", el)
	}
	c.ExpectEOF()
	// The rest of the MiB: the closed socket answers with a reset, so the
	// writes fail within a few chunks.
	var err error
	for err == nil && sent < 1<<20 {
		err = write(chunk)
	}
	if err == nil {
		t.Fatalf("the whole MiB (%d bytes) was accepted by a rejected connection", sent)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("writes blocked after %d bytes: %v", sent, err)
	}
	if sent > 256<<10 {
		t.Fatalf("%d bytes accepted before the writes failed", sent)
	}
	if !waitConns(srv, 0) {
		t.Fatalf("conns = %d", srv.Conns())
	}
	if st := srv.Stats(); st.Rejected != 1 || st.HandshakeTimeout != 0 || st.Upgraded != 0 {
		t.Fatalf("stats after the 1 MiB line: %+v", st)
	}
	t.Logf("%d bytes sent in %v before the write failed: %v", sent, time.Since(start), err)
}

// waitConns polls until the server holds n connections, for up to 5 s.
func waitConns(srv *Server, n int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for srv.Conns() != n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// TestBadVersionsAndKeys: each malformed upgrade gets the exact status
// gobwas/ws v1.5.0 answers for it, and the connection is closed after it.
// A key that is not base64 of 16 bytes, and a repeated Sec-WebSocket-Key,
// Origin, Authorization or Sec-WebSocket-Protocol header, are refused with
// 400 by the transport's own check (no "last one wins").
func TestBadVersionsAndKeys(t *testing.T) {
	srv, _, addr := startServer(t, Options{})
	valid := upgradeRequest("/ws")
	key := valid[strings.Index(valid, "Sec-WebSocket-Key: "):]
	key = key[:strings.Index(key, "\r\n")+2]
	cases := []struct {
		name   string
		req    string
		status string
	}{
		{"version 8", strings.Replace(valid, "Version: 13", "Version: 8", 1), "426 "},
		{"version missing", strings.Replace(valid, "Sec-WebSocket-Version: 13\r\n", "", 1), "400 "},
		{"key missing", strings.Replace(valid, key, "", 1), "400 "},
		{"key too short", strings.Replace(valid, key, "Sec-WebSocket-Key: c2hvcnQ=\r\n", 1), "400 "},
		{"key too long", strings.Replace(valid, key, "Sec-WebSocket-Key: "+strings.Repeat("A", 40)+"\r\n", 1), "400 "},
		{"POST", strings.Replace(valid, "GET ", "POST ", 1), "405 "},
		{"HTTP/1.0", strings.Replace(valid, "HTTP/1.1", "HTTP/1.0", 1), "505 "},
		{"no Upgrade header", strings.Replace(valid, "Upgrade: websocket\r\n", "", 1), "400 "},
		{"no Host header", strings.Replace(valid, "Host: test\r\n", "", 1), "400 "},
		{"key of 24 characters, not base64", strings.Replace(valid, key, "Sec-WebSocket-Key: "+strings.Repeat("!", 24)+"\r\n", 1), "400 "},
		{"key base64 of 18 bytes", strings.Replace(valid, key, "Sec-WebSocket-Key: "+strings.Repeat("A", 24)+"\r\n", 1), "400 "},
		{"two keys", strings.Replace(valid, key, key+"sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\n", 1), "400 "},
		{"two Origin headers", strings.Replace(valid, key, key+"Origin: https://a.example\r\nOrigin: https://b.example\r\n", 1), "400 "},
		{"two Authorization headers", strings.Replace(valid, key, key+"Authorization: Bearer a\r\nauthorization: Bearer b\r\n", 1), "400 "},
		{"two Sec-WebSocket-Protocol headers", strings.Replace(valid, key, key+"Sec-WebSocket-Protocol: fanout.v1\r\nSec-WebSocket-Protocol: bearer.x\r\n", 1), "400 "},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.Write([]byte(tc.req))
			head := c.ReadHead()
			if !strings.HasPrefix(head, "HTTP/1.1 "+tc.status) {
				t.Fatalf("head = %q, want status %s", head, tc.status)
			}
			if tc.status == "426 " && !strings.Contains(head, "Sec-WebSocket-Version: 13\r\n") {
				t.Fatalf("426 without the supported version: %q", head)
			}
			c.ExpectEOF()
			if got := srv.Stats().Rejected; got != uint64(i+1) {
				t.Fatalf("rejected = %d, want %d", got, i+1)
			}
		})
	}
	if st := srv.Stats(); st.Upgraded != 0 {
		t.Fatalf("upgraded = %d", st.Upgraded)
	}
	if !waitConns(srv, 0) {
		t.Fatalf("conns = %d after every rejection", srv.Conns())
	}
}

// TestPingFloodFromNonReader: a client floods pings and never reads the
// pongs. Its queue reaches WriteQueueBytes and it is closed as a slow
// consumer, while another client's messages are echoed meanwhile.
func TestPingFloodFromNonReader(t *testing.T) {
	srv, _, addr := startServer(t, Options{WriteQueueBytes: 64 << 10})
	flood, _ := connect(t, addr)
	other, _ := connect(t, addr)

	// 200,000 pings with 100-byte payloads: about 26 MiB of pongs, far more
	// than the queue and both socket buffers can hold.
	const total, batch = 200_000, 2_000
	ping := frame(true, ws.OpPing, bytes.Repeat([]byte("p"), 100), true)
	buf := bytes.Repeat(ping, batch)
	floodDone := make(chan int, 1)
	go func() {
		sent := 0
		_ = flood.NC.SetWriteDeadline(time.Now().Add(30 * time.Second))
		for sent < total {
			if _, err := flood.NC.Write(buf); err != nil {
				break // closed by the server: expected
			}
			sent += batch
		}
		floodDone <- sent
	}()

	deadline := time.Now().Add(20 * time.Second)
	for i := 0; srv.Stats().SlowConsumer == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("flooder never closed as a slow consumer: %+v", srv.Stats())
		}
		// The other client is served while the flood goes on.
		msg := fmt.Sprintf("m%d", i)
		other.Write(text(msg))
		hd, p, err := other.TryReadFrame(5 * time.Second)
		if err != nil || hd.OpCode != ws.OpText || string(p) != msg {
			t.Fatalf("other client during the flood: %v %q %v", hd.OpCode, p, err)
		}
	}
	// The flooder's socket is closed (close deadline 500 ms): its writes fail.
	select {
	case sent := <-floodDone:
		t.Logf("flooder wrote %d pings before its connection was closed", sent)
	case <-time.After(20 * time.Second):
		t.Fatal("the flooder's connection was never closed")
	}
	if !waitConns(srv, 1) {
		t.Fatalf("conns = %d, want the other client only", srv.Conns())
	}
	if st := srv.Stats(); st.SlowConsumer != 1 {
		t.Fatalf("slow consumer closes = %d", st.SlowConsumer)
	}
	start := time.Now()
	other.Write(text("after"))
	if _, p, err := other.TryReadFrame(5 * time.Second); err != nil || string(p) != "after" {
		t.Fatalf("other client after the flood: %q %v", p, err)
	}
	t.Logf("round trip after the flood: %v", time.Since(start))
}

// TestMalformedRequestLineIsAnswered: a request line gobwas/ws cannot parse
// ("GET /ws" without a version) is answered 400 and closed, and does not take
// the server down. (gobwas/ws writes no response for it; a 24-byte request
// once crashed the daemon through the empty response it left.)
func TestMalformedRequestLineIsAnswered(t *testing.T) {
	for _, line := range []string{"GET /ws", "GET /ws HTTP/2", "GET /ws HTTP/x.y"} {
		t.Run(line, func(t *testing.T) {
			srv, _, addr := startServer(t, Options{})
			c := dialRaw(t, addr)
			c.Write([]byte(line + "\r\nHost: test\r\n\r\n"))
			if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 400 ") {
				t.Fatalf("head = %q", head)
			}
			c.ExpectEOF()
			if st := srv.Stats(); st.Rejected != 1 {
				t.Fatalf("rejected = %d", st.Rejected)
			}
			echoRoundTrip(t, addr, "alive", 5*time.Second)
		})
	}
}
