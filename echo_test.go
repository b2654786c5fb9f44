package fanoutd

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/wstest"
	"github.com/gobwas/ws"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// echoLimit is the message size limit of the echo tests' daemons.
const echoLimit = 1024

// withEcho turns the conformance echo route on at /echo, with a small
// message limit so that the size cases stay small.
func withEcho(c *config.Config) {
	c.Conformance = config.Conformance{Enabled: true, EchoPath: "/echo"}
	c.Limits.MaxMessageSize = echoLimit
}

// echoFrame is a frame the server must answer with.
type echoFrame struct {
	op      ws.OpCode
	payload string
}

// TestEchoRoute drives the echo route with hand-built frames through the
// real transport: each case is answered with the exact frames and, where
// the client broke a rule, the exact close code.
func TestEchoRoute(t *testing.T) {
	d := startDaemon(t, withEcho)
	atLimit := strings.Repeat("a", echoLimit)
	mask := func(fin bool, op ws.OpCode, p string) []byte { return wstest.Frame(fin, op, []byte(p), true) }
	cases := []struct {
		name  string
		send  [][]byte
		want  []echoFrame
		close int // the server's close code; 0: the server stays open
	}{
		{name: "text", send: [][]byte{wstest.Text("héllo")}, want: []echoFrame{{ws.OpText, "héllo"}}},
		{name: "binary stays binary", send: [][]byte{mask(true, ws.OpBinary, "\x00\x01\xfe\xff")},
			want: []echoFrame{{ws.OpBinary, "\x00\x01\xfe\xff"}}},
		{name: "empty text", send: [][]byte{wstest.Text("")}, want: []echoFrame{{ws.OpText, ""}}},
		{name: "fragments with an interleaved ping", send: [][]byte{
			mask(false, ws.OpText, "Hel"), mask(true, ws.OpPing, "p1"),
			mask(false, ws.OpContinuation, "lo, "), mask(true, ws.OpContinuation, "κόσμε")},
			want: []echoFrame{{ws.OpPong, "p1"}, {ws.OpText, "Hello, κόσμε"}}},
		{name: "binary fragments", send: [][]byte{
			mask(false, ws.OpBinary, "\xff"), mask(true, ws.OpContinuation, "\xfe")},
			want: []echoFrame{{ws.OpBinary, "\xff\xfe"}}},
		{name: "UTF-8 split across fragments", send: [][]byte{
			mask(false, ws.OpText, "\xce"), mask(true, ws.OpContinuation, "\xba")},
			want: []echoFrame{{ws.OpText, "κ"}}},
		{name: "message at the size limit", send: [][]byte{wstest.Text(atLimit)}, want: []echoFrame{{ws.OpText, atLimit}}},
		{name: "invalid UTF-8", send: [][]byte{mask(true, ws.OpText, "\xce\xba\xe1\xbd")}, close: 1007},
		{name: "invalid UTF-8 across fragments", send: [][]byte{
			mask(false, ws.OpText, "\xce"), mask(true, ws.OpContinuation, "\xff")}, close: 1007},
		{name: "message over the size limit", send: [][]byte{wstest.Text(atLimit + "a")}, close: 1009},
		{name: "over the limit across fragments", send: [][]byte{
			mask(false, ws.OpBinary, atLimit), mask(true, ws.OpContinuation, "a")}, close: 1009},
		{name: "close code echoed", send: [][]byte{mask(true, ws.OpClose, string(wstest.CloseBody(3001, "bye")))}, close: 3001},
		{name: "invalid close code", send: [][]byte{mask(true, ws.OpClose, string(wstest.CloseBody(1005, "")))}, close: 1002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, head := wstest.Connect(t, d.addr, "/echo")
			if !strings.HasPrefix(head, "HTTP/1.1 101 ") || strings.Contains(head, "Sec-WebSocket-Protocol") {
				t.Fatalf("head = %q, want 101 without a subprotocol", head)
			}
			for _, f := range tc.send {
				c.Write(f)
			}
			for _, w := range tc.want {
				h, p := c.ReadFrame()
				if h.OpCode != w.op || !h.Fin || h.Masked || !bytes.Equal(p, []byte(w.payload)) {
					t.Fatalf("got %v fin=%v masked=%v %q, want %v %q", h.OpCode, h.Fin, h.Masked, short(p), w.op, short([]byte(w.payload)))
				}
			}
			if tc.close == 0 {
				c.Write(mask(true, ws.OpClose, string(wstest.CloseBody(1000, ""))))
				tc.close = 1000
			}
			if got := c.ReadClose(); got != tc.close {
				t.Fatalf("close code %d, want %d", got, tc.close)
			}
			c.ExpectEOF()
		})
	}
	if n := d.srv.Stats().Connections; n != 0 {
		t.Errorf("echo connections counted as %d core sessions", n)
	}
}

func short(p []byte) string {
	if len(p) > 40 {
		return string(p[:40]) + "…"
	}
	return string(p)
}

// TestEchoRouteOffByDefault: without the two conformance keys the echo path
// is just another path: 404, or the TCP publish API's 401 when net/http
// serves the port too.
func TestEchoRouteOffByDefault(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*config.Config)
		status string
	}{
		{"websocket only", func(*config.Config) {}, "404"},
		{"with the TCP API", func(c *config.Config) { c.API.Key = "api-key-that-is-long-enough" }, "401"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := startDaemon(t, tc.mutate)
			if _, head := wstest.Connect(t, d.addr, "/echo"); !strings.HasPrefix(head, "HTTP/1.1 "+tc.status+" ") {
				t.Fatalf("head = %q, want %s", head, tc.status)
			}
		})
	}
}

// TestEchoRouteLeavesTheRealRouteAlone: with the echo route on, ws_path
// still wants a token and still refuses binary messages with 1003.
func TestEchoRouteLeavesTheRealRouteAlone(t *testing.T) {
	d := startDaemon(t, withEcho)
	if got := d.dialStatus(&websocket.DialOptions{}, ""); got != http.StatusUnauthorized {
		t.Fatalf("ws_path without a token: %d, want 401", got)
	}
	w := d.dial(token(t, "alice", "*"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageBinary, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
		t.Fatalf("binary on ws_path: %v, want close 1003", err)
	}
}

// TestEchoRouteWarnsAtStartup: an operator who turned the route on sees it
// in the log, once; a daemon without it logs no such warning.
func TestEchoRouteWarnsAtStartup(t *testing.T) {
	for _, on := range []bool{true, false} {
		core, logs := observer.New(zapcore.WarnLevel)
		cfg := config.Default()
		cfg.Listen, cfg.Socket, cfg.Auth.HMACSecret = "127.0.0.1:0", "", testSecret
		if on {
			withEcho(&cfg)
		}
		srv, err := New(Options{Config: cfg, Logger: zap.New(core)})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		warned := logs.FilterMessageSnippet("conformance echo route").FilterField(zap.String("echo_path", "/echo")).Len()
		if want := map[bool]int{true: 1, false: 0}[on]; warned != want {
			t.Errorf("echo route on=%v: %d warnings, want %d (log: %v)", on, warned, want, logs.All())
		}
	}
}
