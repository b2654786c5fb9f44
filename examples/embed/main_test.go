package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testSecret = "example-secret-that-is-long-enough-0123"

// TestExampleServesTicksAndStopsCleanly runs the example on its own
// listeners: a subscriber gets the in-process ticks, the application's own
// routes answer, and cancelling the context closes the WebSocket with 1001
// and returns nil.
func TestExampleServesTicksAndStopsCleanly(t *testing.T) {
	a := app{WS: listen(t), HTTP: listen(t), Secret: testSecret, Every: 10 * time.Millisecond,
		Log: zaptest.NewLogger(t), Out: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()

	tok, err := jwtauth.Mint([]byte(testSecret), "tester", []string{"clock"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	c, _, err := websocket.Dial(rctx, "ws://"+a.WS.Addr().String()+"/ws",
		&websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.CloseNow() }()
	if err := c.Write(rctx, websocket.MessageText, []byte(`{"action":"subscribe","channel":"clock","id":"1"}`)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"welcome", "subscribed", "tick"} {
		if m := readJSON(t, rctx, c); m["type"] != want {
			t.Fatalf("got %v, want a %s message", m, want)
		}
	}
	var stats struct{ Connections int }
	if err := json.Unmarshal([]byte(get(t, a.HTTP, "/stats")), &stats); err != nil || stats.Connections != 1 {
		t.Fatalf("/stats: %+v, %v; want 1 connection", stats, err)
	}
	if page := get(t, a.HTTP, "/"); !strings.Contains(page, a.WS.Addr().String()) {
		t.Fatalf("the page does not name the WebSocket address:\n%s", page)
	}

	cancel()
	for {
		if _, _, err := c.Read(rctx); err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
				t.Fatalf("closed with %v (%v), want 1001", got, err)
			}
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if out := a.Out.(*bytes.Buffer).String(); !strings.Contains(out, "token:") {
		t.Fatalf("no token printed:\n%s", out)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func readJSON(t *testing.T, ctx context.Context, c *websocket.Conn) map[string]any {
	t.Helper()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return m
}

func get(t *testing.T, ln net.Listener, path string) string {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + ln.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// TestBusyPortIsAnErrorMessage: with its port taken (by `make demo`, say)
// the example exits 1 with one line naming the address and the flag, not a
// logged stack trace.
func TestBusyPortIsAnErrorMessage(t *testing.T) {
	busy := listen(t)
	for _, flagName := range []string{"--ws", "--http"} {
		var stderr bytes.Buffer
		code := runMain(context.Background(), []string{flagName, busy.Addr().String()}, io.Discard, &stderr)
		msg := stderr.String()
		if code != 1 || !strings.Contains(msg, busy.Addr().String()) || !strings.Contains(msg, flagName) ||
			strings.Contains(msg, "goroutine") || strings.Count(msg, "\n") != 1 {
			t.Fatalf("%s on a busy port: exit %d, stderr %q", flagName, code, msg)
		}
	}
}

// TestDefaultPortsAreFree: by default both listeners take a free port, so
// the example runs beside `make demo` and anything else.
func TestDefaultPortsAreFree(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- runMain(ctx, nil, out, io.Discard) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "token:") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("nothing printed: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || strings.Contains(out.String(), ":8090") {
		t.Fatalf("exit %d, printed %q", code, out.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
