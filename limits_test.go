package fanoutd

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
)

func TestConnectionsPerIPAndPerUser(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Limits.MaxConnectionsPerIP = 3
		c.Limits.MaxConnectionsPerUser = 2
	})
	a1 := d.dial(token(t, "ann", "*"))
	d.dial(token(t, "ann", "*"))
	if got := d.dialStatus(subprotocol(token(t, "ann", "*")), ""); got != http.StatusTooManyRequests {
		t.Fatalf("third connection of one user: %d, want 429", got)
	}
	d.dial(token(t, "bob", "*")) // another user, third from this address
	if got := d.dialStatus(subprotocol(token(t, "cat", "*")), ""); got != http.StatusTooManyRequests {
		t.Fatalf("fourth connection from one address: %d, want 429", got)
	}
	// Closing a connection gives both its slots back.
	_ = a1.c.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for d.srv.Stats().Connections != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection was never released")
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.dial(token(t, "ann", "*"))
}

func TestUpgradeRate(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.Limits.UpgradeRate = 1 })
	d.dial(token(t, "dan", "*"))
	ctx, cancel := contextTimeout()
	defer cancel()
	_, resp, err := websocket.Dial(ctx, d.url, subprotocol(token(t, "dan", "*")))
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("second upgrade within the second: %v %v, want 503 with Retry-After", resp, err)
	}
}

func TestCommandsPerSecondThroughTheDaemon(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.Limits.CommandsPerSecond = 5 })
	w := d.dial(token(t, "eve", "*"))
	for i := range 30 {
		w.send(fmt.Sprintf(`{"action":"ping","id":%d}`, i))
	}
	limited := 0
	for range 30 {
		m := w.next()
		if m["code"] == "rate_limited" {
			limited++
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 30 instant commands limited at 5/s (burst 10), want at least 10", limited)
	}
	w.send(`{"action":"subscribe","channel":"x"}`) // the connection is still open
	if _, err := w.tryNext(10 * time.Second); err != nil && !strings.Contains(err.Error(), "rate") {
		t.Fatalf("connection closed after rate limiting: %v", err)
	}
}

func subprotocol(tok string) *websocket.DialOptions {
	return &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}}
}

func contextTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// TestDeflateOffer: a permessage-deflate offer (coder/websocket's, with
// context takeover) is answered without context takeover either way, and
// an independent client implementation inflates the events it gets, small
// (plain) and large (compressed) alike; with compression.negotiate off the
// offer is declined and the connection works uncompressed.
func TestDeflateOffer(t *testing.T) {
	for _, negotiate := range []bool{true, false} {
		t.Run(fmt.Sprint("negotiate=", negotiate), func(t *testing.T) {
			d := startDaemon(t, func(c *config.Config) { c.Compression.Negotiate = negotiate })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, d.url, &websocket.DialOptions{
				Subprotocols:    []string{"fanout.v1", "bearer." + token(t, "dee", "*")},
				CompressionMode: websocket.CompressionContextTakeover,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.CloseNow() }()
			want := ""
			if negotiate {
				want = "permessage-deflate;server_no_context_takeover;client_no_context_takeover"
			}
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != want {
				t.Fatalf("101 accepted extensions %q, want %q", ext, want)
			}
			w := &wsClient{t: t, c: c}
			if m := w.next(); m["type"] != "welcome" {
				t.Fatalf("got %v, want welcome", m)
			}
			w.subscribe("z:1")
			d.publish("z:1", "plain", `{"n":1}`)
			w.expectEvent("z:1", "plain")
			d.publish("z:1", "big", dashboardJSON(4000))
			if m := w.expectEvent("z:1", "big"); len(m["payload"].(map[string]any)["hosts"].([]any)) < 50 {
				t.Fatalf("payload lost hosts: %v", m)
			}
			compressed := uint64(0)
			if negotiate {
				compressed = 1
			}
			if got := d.srv.Stats().CompressedEvents; got != compressed {
				t.Fatalf("compressed_events = %d, want %d", got, compressed)
			}
		})
	}
}

// closedChecker is a netpoll.Session that records, when it hears of the
// close, whether the connection's slots were already given back.
type closedChecker struct {
	limits   *connLimits
	addr     netip.Addr
	released bool
}

func (c *closedChecker) Message(bool, []byte) {}
func (c *closedChecker) Closed(int) {
	c.limits.mu.Lock()
	c.released = c.limits.byIP[c.addr] == 0 && c.limits.byUser["ann"] == 0
	c.limits.mu.Unlock()
}

// TestSlotsFreeBeforeTheSessionCloses: the node stops counting a
// connection in the session's Closed; its per-address and per-user slots
// must be free by then, or a client that sees the count drop and
// reconnects is refused with 429 for a connection that is gone (seen as a
// rare failure of TestConnectionsPerIPAndPerUser).
func TestSlotsFreeBeforeTheSessionCloses(t *testing.T) {
	l := newConnLimits(3, 2, 0)
	ls := l.settings()
	addr := netip.MustParseAddr("192.0.2.7")
	if !l.acquireIP(ls, addr) || !l.acquireUser(ls, "ann") {
		t.Fatal("the first connection was refused")
	}
	inner := &closedChecker{limits: l, addr: addr}
	(&limitedSession{Session: inner, limits: l, ls: ls, addr: addr, user: "ann"}).Closed(1000)
	if !inner.released {
		t.Fatal("the session heard of the close while the connection still held its slots")
	}
}
