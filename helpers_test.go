package fanoutd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/ipc"
)

const testSecret = "test-secret-that-is-long-enough-0123456789"

// daemon is one in-process fanoutd for a test, stopped at cleanup.
type testDaemon struct {
	t      testing.TB
	srv    *Server
	cfg    config.Config
	url    string // ws://…/ws
	addr   string
	socket string
	pub    *ipc.Client
	stop   func() error // ends Run and returns its error; safe to call again
}

func startDaemon(t *testing.T, mutate ...func(*config.Config)) *testDaemon {
	t.Helper()
	return startDaemonTB(t, mutate...)
}

// startDaemonB is startDaemon for benchmarks.
func startDaemonB(b *testing.B, mutate ...func(*config.Config)) *testDaemon {
	b.Helper()
	return startDaemonTB(b, mutate...)
}

func startDaemonTB(t testing.TB, mutate ...func(*config.Config)) *testDaemon {
	t.Helper()
	return runDaemon(t, Options{Config: testConfig(t, mutate...)})
}

// testConfig is a valid configuration on a free port, with its socket in a
// fresh temporary directory.
func testConfig(t testing.TB, mutate ...func(*config.Config)) config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Socket = filepath.Join(t.TempDir(), "fanoutd.sock")
	cfg.Auth.HMACSecret = testSecret
	for _, m := range mutate {
		m(&cfg)
	}
	return cfg
}

// runDaemon creates a Server from o and runs it until stop or the test's
// cleanup.
func runDaemon(t testing.TB, o Options) *testDaemon {
	t.Helper()
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	cfg := o.Config
	d := &testDaemon{t: t, srv: srv, cfg: cfg, addr: srv.Addr().String(), socket: cfg.Socket}
	d.url = "ws://" + d.addr + cfg.WSPath
	d.pub = ipc.NewClient(cfg.Socket)
	d.stop = sync.OnceValue(func() error {
		d.pub.Close()
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("daemon run: %v", err)
		}
	})
	return d
}

func token(t *testing.T, sub string, channels ...string) string {
	t.Helper()
	return tokenB(t, sub, channels...)
}

func tokenB(t testing.TB, sub string, channels ...string) string {
	t.Helper()
	tok, err := jwtauth.Mint([]byte(testSecret), sub, channels, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dial connects a coder/websocket client with the token in the subprotocol
// and reads the welcome message.
func (d *testDaemon) dial(tok string) *wsClient {
	d.t.Helper()
	return d.dialWith(&websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}}, "")
}

func (d *testDaemon) dialWith(o *websocket.DialOptions, query string) *wsClient {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, d.url+query, o)
	if err != nil {
		d.t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	w := &wsClient{t: d.t, c: c}
	d.t.Cleanup(func() { _ = c.CloseNow() })
	if w.welcome = w.next(); w.welcome["type"] != "welcome" {
		d.t.Fatalf("first message %v, want welcome", w.welcome)
	}
	return w
}

// dialStatus returns the HTTP status of a refused upgrade.
func (d *testDaemon) dialStatus(o *websocket.DialOptions, query string) int {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, d.url+query, o)
	if err == nil {
		_ = c.CloseNow()
		d.t.Fatal("upgrade succeeded, want a refusal")
	}
	if resp == nil {
		d.t.Fatalf("no HTTP response: %v", err)
	}
	return resp.StatusCode
}

func (d *testDaemon) publish(channel, typ, payload string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.pub.Publish(ctx, channel, typ, json.RawMessage(payload)); err != nil {
		d.t.Fatalf("publish: %v", err)
	}
}

// post sends a raw body to the API over the Unix socket.
func (d *testDaemon) post(contentType, body string) (int, string) {
	d.t.Helper()
	hc := &http.Client{Transport: unixTransport(d.socket), Timeout: 10 * time.Second}
	resp, err := hc.Post("http://fanoutd/v1/publish", contentType, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var sb strings.Builder
	_, _ = fmt.Fprint(&sb, readAll(resp))
	return resp.StatusCode, sb.String()
}

type wsClient struct {
	t       testing.TB
	c       *websocket.Conn
	welcome map[string]any
}

func (w *wsClient) send(v string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(v)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func (w *wsClient) next() map[string]any {
	w.t.Helper()
	m, err := w.tryNext(10 * time.Second)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return m
}

func (w *wsClient) tryNext(d time.Duration) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errors.New("binary message")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("bad JSON %q: %w", b, err)
	}
	return m, nil
}

// subscribe subscribes and waits for the reply.
func (w *wsClient) subscribe(channel string) {
	w.t.Helper()
	w.send(`{"action":"subscribe","channel":"` + channel + `","id":"s"}`)
	if m := w.next(); m["type"] != "subscribed" || m["channel"] != channel {
		w.t.Fatalf("subscribe reply %v", m)
	}
}

// expectEvent reads the next message and checks it is the given event.
func (w *wsClient) expectEvent(channel, typ string) map[string]any {
	w.t.Helper()
	m := w.next()
	if m["type"] != typ || m["channel"] != channel {
		w.t.Fatalf("got %v, want %s on %s", m, typ, channel)
	}
	return m
}
