package netpoll

import (
	"bytes"
	"encoding/base64"
)

// singleHeaders are the request headers that must appear at most once in
// an upgrade. gobwas/ws (and net/http's Header.Get) let the last or the
// first of several win, and which one a proxy in front acted on is
// anybody's guess: a second Origin could slip past a check the proxy made
// on the first, a second Authorization or Sec-WebSocket-Protocol could
// carry a token the proxy never saw. RFC 6455 §11.3.4 allows a repeated
// Sec-WebSocket-Protocol as one list; fanoutd refuses it anyway, because
// the token may ride in it and browsers send one.
var singleHeaders = [...][]byte{
	[]byte("Sec-WebSocket-Key"),
	[]byte("Origin"),
	[]byte("Authorization"),
	[]byte("Sec-WebSocket-Protocol"),
}

var secKey = singleHeaders[0]

// checkHead looks at a complete request head before gobwas/ws does and
// returns the 400 response for what it does not check itself: a header of
// singleHeaders given twice, or a Sec-WebSocket-Key that is not the base64
// encoding of 16 bytes (RFC 6455 §4.2.1; gobwas/ws checks only that it has
// 24 characters). nil means the head may go on. It allocates nothing.
func checkHead(head []byte) []byte {
	var seen [len(singleHeaders)]bool
	_, lines, _ := bytes.Cut(head, []byte("\n")) // the request line is gobwas/ws's to judge
	for len(lines) > 0 {
		var line []byte
		line, lines, _ = bytes.Cut(lines, []byte("\n"))
		name, value, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\r")), []byte(":"))
		if !ok {
			continue
		}
		for i, h := range singleHeaders {
			if !bytes.EqualFold(name, h) {
				continue
			}
			if seen[i] {
				return respRepeatedHeader
			}
			seen[i] = true
			if i == 0 && !validKey(bytes.TrimSpace(value)) {
				return respBadKey
			}
		}
	}
	return nil
}

// validKey reports whether key is base64 of exactly 16 bytes. A key of
// another length is left to gobwas/ws, which answers it the same way.
func validKey(key []byte) bool {
	if len(key) != 24 {
		return true
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], key)
	return err == nil && n == 16
}

var (
	respRepeatedHeader = []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n" +
		"Content-Length: 16\r\nConnection: close\r\n\r\nrepeated header\n")
	respBadKey = []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n" +
		"Content-Length: 31\r\nConnection: close\r\n\r\nbad \"Sec-WebSocket-Key\" header\n")
)
