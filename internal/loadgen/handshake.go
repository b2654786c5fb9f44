package loadgen

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
)

// acceptGUID is RFC 6455's constant for Sec-WebSocket-Accept.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// handshake upgrades nc to a WebSocket, token in the Authorization header
// (no header when token is empty: Centrifugo takes it in a command),
// reading the answer through br (which then holds any frame bytes that
// arrived with it). It is hand-written rather than ws.Dialer so that the
// response is read into the connection's own small reader, with no extra
// buffer per connection. A non-101 answer wraps ErrUpgrade and names the
// status, which is how a full daemon (503) or a bad token (401) shows up.
func handshake(nc net.Conn, br *bufio.Reader, t Target, token string, deflate bool) error {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	req := "GET " + t.Path + " HTTP/1.1\r\nHost: " + t.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if deflate {
		req += deflateOffer
	}
	req += "\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return fmt.Errorf("send upgrade: %w", err)
	}
	status, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read upgrade answer: %w", err)
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return fmt.Errorf("%w: %s", ErrUpgrade, bytes.TrimSpace(statusCode(status)))
	}
	return readUpgradeHeaders(br, acceptFor(key))
}

// readUpgradeHeaders reads to the blank line and checks Sec-WebSocket-Accept.
func readUpgradeHeaders(br *bufio.Reader, accept string) error {
	ok := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read upgrade headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")) {
			ok = string(bytes.TrimSpace(value)) == accept
		}
	}
	if !ok {
		return fmt.Errorf("%w: missing or wrong Sec-WebSocket-Accept", ErrUpgrade)
	}
	return nil
}

func acceptFor(key string) string {
	sum := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// statusCode is "HTTP 503" from "HTTP/1.1 503 Service Unavailable".
func statusCode(line []byte) []byte {
	f := bytes.Fields(line)
	if len(f) < 2 {
		return line
	}
	return append([]byte("HTTP "), f[1]...)
}
