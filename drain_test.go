package fanoutd

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
)

// TestShutdownDrainsWithCodeAndHint: an event published just before the
// shutdown reaches every client before its close frame; each close has
// the configured code and a reconnect hint within its bounds; Run returns
// nil.
func TestShutdownDrainsWithCodeAndHint(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Drain = config.Drain{Window: 300 * time.Millisecond, CloseCode: 1012, ReconnectAfter: 100 * time.Millisecond}
	})
	const n = 30
	clients := make([]*wsClient, n)
	for i := range clients {
		clients[i] = d.dial(token(t, "u", "*"))
		clients[i].subscribe("news")
	}
	d.publish("news", "last.word", `{}`)
	type outcome struct {
		event string
		err   error
	}
	results := make(chan outcome, n)
	for _, w := range clients {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var o outcome
			if _, b, err := w.c.Read(ctx); err == nil {
				o.event = string(b)
			}
			_, _, o.err = w.c.Read(ctx)
			results <- o
		}()
	}
	if err := d.stop(); err != nil {
		t.Fatalf("Run after the drain: %v", err)
	}
	for range n {
		o := <-results
		var ev struct{ Type string }
		if err := json.Unmarshal([]byte(o.event), &ev); err != nil || ev.Type != "last.word" {
			t.Errorf("before the close: %q, want the event published before the shutdown", o.event)
		}
		var ce websocket.CloseError
		if !errors.As(o.err, &ce) || ce.Code != 1012 {
			t.Errorf("closed with %v, want 1012", o.err)
			continue
		}
		var hint struct {
			ReconnectAfterMS *int `json:"reconnect_after_ms"`
		}
		if err := json.Unmarshal([]byte(ce.Reason), &hint); err != nil || hint.ReconnectAfterMS == nil ||
			*hint.ReconnectAfterMS < 100 || *hint.ReconnectAfterMS >= 200 {
			t.Errorf("close reason %q, want {\"reconnect_after_ms\":N} with 100 <= N < 200", ce.Reason)
		}
	}
}

func TestReconnectHint(t *testing.T) {
	for _, c := range []struct {
		after  time.Duration
		jitter float64
		want   string
	}{
		{time.Second, 0, `{"reconnect_after_ms":1000}`},
		{time.Second, 0.5, `{"reconnect_after_ms":1500}`},
		{0, 0.9, `{"reconnect_after_ms":0}`},
		{10 * time.Minute, 0.999999, `{"reconnect_after_ms":1199999}`},
	} {
		if got := reconnectHint(c.after, c.jitter); got != c.want || len(got) > 123 {
			t.Errorf("reconnectHint(%v, %v) = %s, want %s", c.after, c.jitter, got, c.want)
		}
	}
}

// TestTwoThousandClientsDrain: 2,000 connections held by another process
// all get their close frame with the configured code; an event published
// just before the shutdown was queued to every one of them first (the
// close frame goes behind it in the same queue).
func TestTwoThousandClientsDrain(t *testing.T) {
	const total = 2000
	d := startDaemon(t, func(c *config.Config) {
		c.Limits.MaxConnections = total + 100
		c.Drain = config.Drain{Window: time.Second, CloseCode: 1012, ReconnectAfter: time.Second}
		c.Heartbeat.Interval = time.Hour // the child's raw clients do not answer pings
	})
	child := startChildClients(t, d.addr, token(t, "load", "room:*"))
	child.open(total)
	d.waitConns(total)
	before := d.srv.Stats().Delivered
	d.publish("room:all", "last.word", `{}`)
	if got := d.srv.Stats().Delivered - before; got != total {
		t.Fatalf("the last publish was queued to %d connections, want %d", got, total)
	}
	done := make(chan error, 1)
	go func() { done <- d.stop() }()
	deadline := time.Now().Add(30 * time.Second)
	for d.srv.ws.CloseCodesSent()[1012] < total {
		if time.Now().After(deadline) {
			t.Fatalf("close frames sent: %v, want %d with 1012", d.srv.ws.CloseCodesSent(), total)
		}
		time.Sleep(5 * time.Millisecond)
	}
	child.stop() // the child never answers a close: hang up rather than wait for the close timeout
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sent := d.srv.ws.CloseCodesSent(); sent[1012] != total || len(sent) != 1 {
		t.Fatalf("close frames sent: %v, want %d with 1012 and no other", sent, total)
	}
}
