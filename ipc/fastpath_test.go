package ipc

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawConn is a client that writes requests by hand and reads answers with
// net/http's parser, on one connection to a test server.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, path string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(req string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, req); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) answer() (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp, string(b)
}

func publishReq(body string, extra ...string) string {
	h := "POST /v1/publish HTTP/1.1\r\nHost: fanoutd\r\nContent-Type: application/json\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestFastPathAnswers: publishes on one connection, pipelined, answered
// in order with net/http's headers; then a request the fast path does not
// take, on the same connection, is served by net/http.
func TestFastPathAnswers(t *testing.T) {
	s := startUnix(t, Options{})
	r := dialRaw(t, s.path)
	ev := `{"channel":"c","type":"t"}`
	r.send(publishReq(ev) + publishReq(ev, "Connection: keep-alive") + publishReq(`{"type":"t"}`))
	for i, want := range []string{
		`{"published":1,"positions":[{"channel":"c","offset":1,"epoch":"e1"}]}`,
		`{"published":1,"positions":[{"channel":"c","offset":2,"epoch":"e1"}]}`,
		`{"error":"invalid event","events":[{"index":0,"error":"missing \"channel\" (or \"projectId\")"}]}`,
	} {
		resp, body := r.answer()
		assertJSON(t, body, want)
		if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
			resp.Header.Get("Date") == "" || resp.ContentLength != int64(len(body)) {
			t.Errorf("answer %d headers %v, length %d for %d bytes", i, resp.Header, resp.ContentLength, len(body))
		}
	}
	r.send("GET /v1/stats HTTP/1.1\r\nHost: fanoutd\r\n\r\n")
	resp, body := r.answer()
	if resp.StatusCode != 200 || !strings.Contains(body, `"sessions":3`) {
		t.Fatalf("stats after fast publishes: %d %s", resp.StatusCode, body)
	}
	r.send(publishReq(ev)) // net/http serves the rest of this connection
	if resp, body := r.answer(); resp.StatusCode != 200 {
		t.Fatalf("publish after the hand-off: %d %s", resp.StatusCode, body)
	}
}

// TestFastPathDeclines: requests outside the fast path's plain form get
// net/http's answers, exactly as before.
func TestFastPathDeclines(t *testing.T) {
	ev := `{"channel":"c","type":"t"}`
	cases := []struct {
		name, req string
		status    int
	}{
		{"chunked body", "POST /v1/publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n" + ev + "\r\n0\r\n\r\n", 200},
		{"expect continue", publishReq(ev, "Expect: 100-continue"), 200},
		{"query string", strings.Replace(publishReq(ev), "/v1/publish", "/v1/publish?x=1", 1), 200},
		{"no host", strings.Replace(publishReq(ev), "Host: fanoutd\r\n", "", 1), 400},
		{"bad header", publishReq(ev, "Bad Name: x"), 400},
		{"conflicting lengths", publishReq(ev, "Content-Length: 3"), 400},
		{"connection close", publishReq(ev, "Connection: close"), 200},
		{"HTTP/1.0", strings.Replace(publishReq(ev), "HTTP/1.1", "HTTP/1.0", 1), 200},
		{"body over the fast limit", publishReq(`{"channel":"c","type":"t","payload":"` + strings.Repeat("x", fastMaxBody) + `"}`), 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startUnix(t, Options{MaxBodyBytes: 1 << 20})
			r := dialRaw(t, s.path)
			r.send(tc.req)
			resp, body := r.answer()
			if resp.StatusCode == http.StatusContinue {
				resp, body = r.answer()
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
		})
	}
}

// TestFastPathPeerCheck: the allowlist applies to fast requests and to
// connections handed to net/http.
func TestFastPathPeerCheck(t *testing.T) {
	s := startUnix(t, Options{PeerUIDs: []int{1 << 30}})
	r := dialRaw(t, s.path)
	r.send(publishReq(`{"channel":"c","type":"t"}`))
	if resp, body := r.answer(); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("fast publish from a refused peer: %d %s", resp.StatusCode, body)
	}
	r.send("GET /v1/stats HTTP/1.1\r\nHost: fanoutd\r\n\r\n")
	if resp, body := r.answer(); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stats from a refused peer after the hand-off: %d %s", resp.StatusCode, body)
	}
}

// TestFastPathShutdown: Shutdown does not wait for an idle fast
// connection; it closes it.
func TestFastPathShutdown(t *testing.T) {
	path := t.TempDir() + "/s"
	ln, err := ListenUnix(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(NewHandler(Options{Publisher: &fakePublisher{}}), nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	r := dialRaw(t, path)
	r.send(publishReq(`{"channel":"c","type":"t"}`))
	if resp, _ := r.answer(); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-done; err != http.ErrServerClosed {
		t.Fatalf("serve: %v", err)
	}
	if _, err := r.br.ReadByte(); err == nil {
		t.Error("the idle fast connection is still open after Shutdown")
	}
}

// FuzzFastPathHead: the head parser takes untrusted bytes; whatever it
// accepts has a Host header (empty is valid, as for net/http) and a Content-Length within the fast path's bounds.
func FuzzFastPathHead(f *testing.F) {
	f.Add([]byte("POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"))
	f.Add([]byte("POST /v1/publish HTTP/1.1\r\nhost: x\r\ncontent-length: +3\r\n"))
	f.Add([]byte("POST /v1/publish HTTP/1.1\r\nHost: x\r\n Folded: y\r\nContent-Length: 1\r\n"))
	f.Add([]byte("POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		fc := &fastConn{req: &http.Request{Header: http.Header{}}}
		if !fc.parseHead(head) {
			return
		}
		if _, host := fc.req.Header["Host"]; fc.req.ContentLength < 0 || fc.req.ContentLength > fastMaxBody || !host {
			t.Fatalf("accepted %q: length %d host %q", head, fc.req.ContentLength, fc.req.Host)
		}
		for k, vs := range fc.req.Header {
			if !validName([]byte(k)) || len(vs) != 1 || !validValue([]byte(vs[0])) {
				t.Fatalf("accepted %q with header %q: %q", head, k, vs)
			}
		}
	})
}

// gatedPublisher holds each publish until release is closed, and says
// when the first one started.
type gatedPublisher struct {
	fakePublisher
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedPublisher) PublishBatch(ctx context.Context, n int, event func(int) (string, string, []byte, string),
	done func(int, uint64, string, bool)) (int, error) {
	g.once.Do(func() { close(g.started) })
	<-g.release
	return g.fakePublisher.PublishBatch(ctx, n, event, done)
}

// TestFastPathShutdownServesWhatArrived: a request that reached the
// connection while Shutdown began (here the second of two pipelined ones,
// the first still being published) is answered, not dropped with the
// connection: a restart that hands the socket over must not reset a
// publisher's request under it.
func TestFastPathShutdownServesWhatArrived(t *testing.T) {
	path := t.TempDir() + "/s"
	ln, err := ListenUnix(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &gatedPublisher{started: make(chan struct{}), release: make(chan struct{})}
	srv := NewHTTPServer(NewHandler(Options{Publisher: p}), nil)
	go func() { _ = srv.Serve(ln) }()
	r := dialRaw(t, path)
	r.send(publishReq(`{"channel":"c","type":"t"}`) + publishReq(`{"channel":"c","type":"u"}`))
	<-p.started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // Shutdown has closed the listener and begun closing the path
	close(p.release)
	for i := range 2 {
		if resp, body := r.answer(); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %s %s", i+1, resp.Status, body)
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
