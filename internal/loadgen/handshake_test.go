package loadgen

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

// serveOnce accepts one connection on a fresh loopback port, reads the
// upgrade request (sent on the returned channel) and writes answer(key).
func serveOnce(t *testing.T, answer func(key string) string) (string, <-chan *http.Request) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reqs := make(chan *http.Request, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			reqs <- nil
			return
		}
		defer func() { _ = nc.Close() }()
		req, err := http.ReadRequest(bufio.NewReader(nc))
		reqs <- req
		if err == nil {
			_, _ = nc.Write([]byte(answer(req.Header.Get("Sec-WebSocket-Key"))))
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String(), reqs
}

func TestHandshake(t *testing.T) {
	ok101 := func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"sec-websocket-accept: " + acceptFor(key) + "\r\n\r\n\x81\x02{}"
	}
	cases := []struct {
		name   string
		answer func(string) string
		want   error
		text   string
	}{
		{name: "accepted", answer: ok101},
		{name: "wrong accept", answer: func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: nope\r\n\r\n"
		}, want: ErrUpgrade, text: "Sec-WebSocket-Accept"},
		{name: "full", answer: func(string) string {
			return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n"
		}, want: ErrUpgrade, text: "HTTP 503"},
		{name: "header too long", answer: func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n"
		}, want: bufio.ErrBufferFull},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, reqs := serveOnce(t, tc.answer)
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = nc.Close() }()
			br := bufio.NewReaderSize(nc, 1024)
			err = handshake(nc, br, Target{Addr: addr, Host: "bench.test", Path: "/ws?x=1"}, "TOKEN", false)
			req := <-reqs
			if req == nil || req.Header.Get("Authorization") != "Bearer TOKEN" || req.Host != "bench.test" ||
				req.URL.String() != "/ws?x=1" || req.Header.Get("Upgrade") != "websocket" {
				t.Fatalf("request %+v", req)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := br.Peek(4); string(b) != "\x81\x02{}" {
					t.Fatalf("frame bytes after the head were lost: %q", b)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("handshake error %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}
