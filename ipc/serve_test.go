package ipc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// testServer is a real http.Server on a real listener; base and hc reach it.
type testServer struct {
	pub  *fakePublisher
	base string
	hc   *http.Client
	path string // socket path, Unix servers only
}

// serve runs h on ln until the test ends; Shutdown in Cleanup waits for the
// Serve goroutine so goleak sees nothing left behind.
func serve(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	serveWith(t, ln, NewHTTPServer(h, zaptest.NewLogger(t)))
}

// serveWith is serve for a server the test built itself.
func serveWith(t *testing.T, ln net.Listener, srv *http.Server) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
}

func startUnix(t *testing.T, opts Options) *testServer {
	t.Helper()
	if opts.Publisher == nil {
		opts.Publisher = &fakePublisher{}
	}
	opts.Logger = zaptest.NewLogger(t)
	path := filepath.Join(t.TempDir(), "s")
	ln, err := ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, NewHandler(opts))
	hc := unixHTTPClient(path)
	t.Cleanup(hc.CloseIdleConnections)
	pub, _ := opts.Publisher.(*fakePublisher)
	return &testServer{pub: pub, base: "http://unix", hc: hc, path: path}
}

func startTCP(t *testing.T, opts Options) *testServer {
	t.Helper()
	if opts.Publisher == nil {
		opts.Publisher = &fakePublisher{}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, NewTCPHandler(opts))
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	pub, _ := opts.Publisher.(*fakePublisher)
	return &testServer{pub: pub, base: "http://" + ln.Addr().String(), hc: hc}
}

func unixHTTPClient(path string) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// response is what a test inspects of an answer.
type response struct {
	status int
	header http.Header
	body   string
}

func (s *testServer) do(t *testing.T, method, path, contentType, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// assertJSON compares JSON documents by value, so the tests pin the exact
// response bodies without depending on member order or spacing.
func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("response is not JSON: %v: %q", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s, want %s", strings.TrimSpace(got), want)
	}
}

func assertStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}
