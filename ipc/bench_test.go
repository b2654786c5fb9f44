package ipc

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkPublishUnix is one single-event publish over a real Unix socket
// and the server NewHTTPServer builds, on one keep-alive connection with a
// raw client: the cost the daemon's request path adds per publish (the
// publisher is a no-op). Profile it with -cpuprofile.
func BenchmarkPublishUnix(b *testing.B) {
	path := filepath.Join(b.TempDir(), "s")
	ln, err := ListenUnix(path, 0)
	if err != nil {
		b.Fatal(err)
	}
	srv := NewHTTPServer(NewHandler(Options{Publisher: nopPublisher{}}), nil)
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	conn, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	body := `{"channel":"project:abc","type":"build.finished","payload":{"ok":true,"ms":1234}}`
	req := []byte("POST /v1/publish HTTP/1.1\r\nHost: fanoutd\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	br := bufio.NewReader(conn)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
}
