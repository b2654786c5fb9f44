package wstest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// CloseNoStatus is reported by ReadClose for a close frame without a code.
const CloseNoStatus = 1005

// Client is a raw WebSocket client over one TCP connection.
type Client struct {
	T  testing.TB
	NC net.Conn
	BR *bufio.Reader
}

// Dial opens a TCP connection that the test's cleanup closes.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &Client{T: t, NC: nc, BR: bufio.NewReader(nc)}
}

// UpgradeRequest is a valid upgrade request for path with extra header
// lines (each ending in \r\n).
func UpgradeRequest(path string, extra ...string) string {
	var key [16]byte
	_, _ = rand.Read(key[:])
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n" +
		strings.Join(extra, "") + "\r\n"
}

// Connect dials, sends an upgrade request for path and returns the response head.
func Connect(t testing.TB, addr, path string, extra ...string) (*Client, string) {
	t.Helper()
	c := Dial(t, addr)
	c.Write([]byte(UpgradeRequest(path, extra...)))
	return c, c.ReadHead()
}

// Write sends raw bytes.
func (c *Client) Write(b []byte) {
	c.T.Helper()
	if _, err := c.NC.Write(b); err != nil {
		c.T.Fatalf("write: %v", err)
	}
}

// ReadHead reads an HTTP response head.
func (c *Client) ReadHead() string {
	c.T.Helper()
	_ = c.NC.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head strings.Builder
	for {
		line, err := c.BR.ReadString('\n')
		if err != nil {
			c.T.Fatalf("reading response head: %v (got %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			return head.String()
		}
	}
}

// Frame builds a client frame, masked unless told otherwise.
func Frame(fin bool, op ws.OpCode, payload []byte, masked bool) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Masked: masked}
	var buf bytes.Buffer
	p := append([]byte(nil), payload...)
	if masked {
		h.Mask = [4]byte{1, 2, 3, 4}
		ws.Cipher(p, h.Mask, 0)
	}
	_ = ws.WriteHeader(&buf, h)
	buf.Write(p)
	return buf.Bytes()
}

// Text is a masked, final text frame.
func Text(s string) []byte { return Frame(true, ws.OpText, []byte(s), true) }

// CloseBody is a close frame payload.
func CloseBody(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// ReadFrame reads one server frame, failing the test after 10 s.
func (c *Client) ReadFrame() (ws.Header, []byte) {
	c.T.Helper()
	h, p, err := c.TryReadFrame(10 * time.Second)
	if err != nil {
		c.T.Fatalf("read frame: %v", err)
	}
	return h, p
}

// TryReadFrame reads one server frame within d.
func (c *Client) TryReadFrame(d time.Duration) (ws.Header, []byte, error) {
	_ = c.NC.SetReadDeadline(time.Now().Add(d))
	h, err := ws.ReadHeader(c.BR)
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(c.BR, p)
	return h, p, err
}

// ReadClose reads until a close frame, skipping others, and returns its code.
func (c *Client) ReadClose() int {
	c.T.Helper()
	for {
		h, p := c.ReadFrame()
		if h.OpCode == ws.OpClose {
			if len(p) < 2 {
				return CloseNoStatus
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

// ExpectEOF asserts that the server closes the TCP connection within 10 s.
func (c *Client) ExpectEOF() {
	c.T.Helper()
	_ = c.NC.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c.BR)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.T.Fatal("server did not close the connection")
	}
}
