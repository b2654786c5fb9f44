package fanoutd

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/coder/websocket"
	"net/http"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/control"
	"github.com/fanoutd/fanoutd/internal/natstest"
	"github.com/fanoutd/fanoutd/internal/redistest"
)

// waitNodes waits until every daemon hears all of them on the control bus.
func waitNodes(t *testing.T, ds ...*testDaemon) {
	t.Helper()
	for _, d := range ds {
		waitFor(t, 10*time.Second, "the nodes to hear each other", func() bool {
			var n struct {
				Nodes []string `json:"nodes"`
			}
			d.get("/v1/nodes", &n)
			return len(n.Nodes) == len(ds)
		})
	}
}

// closeWithin is the bound from the answer to the close reaching
// a client: the answer means every node has already queued the close.
const closeWithin = time.Second

func TestControlClusterRedis(t *testing.T) {
	r := redistest.Start(t)
	controlAcrossNodes(t, onRedis(r), 0)
}

func TestControlClusterNATS(t *testing.T) {
	n := natstest.Start(t)
	// natsbroker's History leaves a fetch running for up to its 1 s wait
	// when it returns early (a purged history): let it end before the
	// leak check.
	controlAcrossNodes(t, onNATS(n), 1500*time.Millisecond)
}

// controlAcrossNodes runs three daemons on one broker and acts on a user
// who is connected to all of them, through one node.
func controlAcrossNodes(t *testing.T, broker func(*config.Config), settle time.Duration) {
	outer := t // the restarted node outlives its subtest
	nodes := []*testDaemon{startDaemon(t, broker), startDaemon(t, broker), startDaemon(t, broker)}
	waitNodes(t, nodes...)
	tok := token(t, "ann", "user:ann")
	dialAll := func() []*wsClient {
		var ws []*wsClient
		for _, d := range nodes {
			ws = append(ws, d.dial(tok))
		}
		return ws
	}
	bob := nodes[2].dial(token(t, "bob", "*"))

	t.Run("subscribe and unsubscribe reach every node", func(t *testing.T) {
		ws := dialAll()
		r := nodes[0].act(http.MethodPost, "/v1/subscribe", map[string]any{"user": "ann", "channel": "project:c"})
		if r.Applied != 3 || len(r.Nodes) != 3 || len(r.Missing) != 0 {
			t.Fatalf("answer %+v, want 3 applied on 3 nodes", r)
		}
		for _, w := range ws {
			if m := w.next(); m["type"] != "subscribed" || m["channel"] != "project:c" {
				t.Fatalf("got %v, want subscribed", m)
			}
		}
		nodes[1].publish("project:c", "story.created", "1")
		for _, w := range ws {
			w.expectEvent("project:c", "story.created")
		}
		r = nodes[2].act(http.MethodPost, "/v1/unsubscribe", map[string]any{"user": "ann", "channel": "project:c"})
		if r.Applied != 3 {
			t.Fatalf("answer %+v", r)
		}
		for _, w := range ws {
			if m := w.next(); m["type"] != "unsubscribed" || m["code"] != "server" {
				t.Fatalf("got %v, want unsubscribed", m)
			}
		}
		nodes[0].act(http.MethodPost, "/v1/disconnect", map[string]any{"user": "ann"})
		for _, w := range ws {
			w.expectClose(10 * time.Second)
		}
	})

	t.Run("disconnect closes the user everywhere", func(t *testing.T) {
		ws := dialAll()
		var list control.Connections
		nodes[1].get("/v1/connections?user=ann", &list)
		seen := map[any]bool{}
		for _, c := range list.Connections {
			seen[c["node"]] = true
		}
		if len(list.Connections) != 3 || len(seen) != 3 || len(list.Missing) != 0 {
			t.Fatalf("connections of ann across nodes: %+v", list)
		}
		r := nodes[1].act(http.MethodPost, "/v1/disconnect", map[string]any{"user": "ann"})
		if r.Applied != 3 || len(r.Missing) != 0 {
			t.Fatalf("answer %+v, want 3 applied", r)
		}
		for i, w := range ws {
			if code := w.expectClose(closeWithin); code != control.CloseDisconnected {
				t.Fatalf("node %d: close code %d", i, code)
			}
		}
		bob.stillOpen()
	})

	t.Run("revoke closes and refuses everywhere, across a restart", func(t *testing.T) {
		ws := dialAll()
		r := nodes[2].act(http.MethodPost, "/v1/revoke", map[string]any{"user": "ann", "for": "1h"})
		if r.Applied != 3 || len(r.Missing) != 0 {
			t.Fatalf("answer %+v, want 3 applied", r)
		}
		for i, w := range ws {
			if code := w.expectClose(closeWithin); code != control.CloseRevoked {
				t.Fatalf("node %d: close code %d", i, code)
			}
		}
		for i, d := range nodes {
			if st := d.dialStatus(bearer(tok), ""); st != http.StatusUnauthorized {
				t.Fatalf("node %d: handshake %d, want 401", i, st)
			}
		}
		start := time.Now()
		if err := nodes[0].stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("stopped in %s", time.Since(start))
		nodes[0] = startDaemon(outer, broker)
		if st := nodes[0].dialStatus(bearer(tok), ""); st != http.StatusUnauthorized {
			t.Fatalf("restarted node: handshake %d, want 401", st)
		}
		t.Logf("restarted in %s", time.Since(start))
		waitNodes(t, nodes...)
		t.Logf("heard in %s", time.Since(start))
		nodes[0].act(http.MethodDelete, "/v1/revoke", map[string]any{"user": "ann"})
		for _, d := range nodes {
			w := d.dial(tok)
			w.stillOpen()
			_ = w.c.Close(websocket.StatusNormalClosure, "")
		}
		bob.stillOpen()
	})

	t.Run("a revocation ends on every node, a restarted one too", func(t *testing.T) {
		start := time.Now()
		nodes[1].act(http.MethodPost, "/v1/revoke", map[string]any{"user": "ann", "for": "3s"})
		t.Logf("revoked in %s", time.Since(start))
		if err := nodes[1].stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("stopped in %s", time.Since(start))
		nodes[1] = startDaemon(outer, broker)
		t.Logf("restarted in %s", time.Since(start))
		for i, d := range nodes {
			if st := d.dialStatus(bearer(tok), ""); st != http.StatusUnauthorized {
				t.Fatalf("node %d: handshake %d during the revocation, want 401", i, st)
			}
		}
		for i, d := range nodes {
			waitFor(t, 10*time.Second, fmt.Sprintf("node %d to let ann in again", i), func() bool {
				var list []control.Revocation
				d.get("/v1/revocations", &list)
				return len(list) == 0
			})
			d.dial(tok).stillOpen()
		}
	})

	t.Run("a tap on one node sees what another publishes", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		lines := make(chan map[string]any, 64)
		done := make(chan error, 1)
		go func() {
			done <- nodes[0].ctl().Tap(ctx, "project:tapped", func(b []byte) error {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					return err
				}
				if m["kind"] == "event" {
					select {
					case lines <- m:
					default:
					}
				}
				return nil
			})
		}()
		var from struct {
			Node string `json:"node"`
		}
		nodes[1].get("/v1/nodes", &from)
		// The other nodes learn of the tap from its node's hello: publish
		// until an event comes through (bounded).
		var got map[string]any
		for i := 0; got == nil && i < 100; i++ {
			nodes[1].publish("project:tapped", "story.created", fmt.Sprint(i))
			select {
			case got = <-lines:
			case <-time.After(100 * time.Millisecond):
			}
		}
		if got == nil || got["node"] != from.Node || got["channel"] != "project:tapped" {
			t.Fatalf("tapped %v, want an event published through node %s", got, from.Node)
		}
		cancel()
		<-done
	})

	t.Run("history reads match what subscribers received, and clear on every node", func(t *testing.T) {
		historyMatchesSubscriber(t, nodes[0], nodes[1], "project:hist")
		var before struct {
			Epoch string `json:"epoch"`
		}
		nodes[2].get("/v1/channels/project:hist/history", &before)
		r := nodes[2].act(http.MethodDelete, "/v1/channels/project:hist/history", nil)
		if len(r.Nodes) != 3 || len(r.Missing) != 0 {
			t.Fatalf("clear: %+v", r)
		}
		for _, n := range r.Nodes {
			if n.Error != "" {
				t.Fatalf("clear on node %s: %s", n.Node, n.Error)
			}
		}
		var after struct {
			Offset   uint64            `json:"offset"`
			Complete bool              `json:"complete"`
			Events   []json.RawMessage `json:"events"`
		}
		nodes[0].get("/v1/channels/project:hist/history?since=1&epoch="+before.Epoch, &after)
		// The position stays (NATS keeps the last event, which carries it);
		// what came after offset 1 is gone.
		if after.Offset != 5 || after.Complete || len(after.Events) > 1 {
			t.Fatalf("after clear: %+v", after)
		}
		time.Sleep(settle)
	})
}

// TestControlClusterRedisShards: with the channels spread over two Redis
// shards, control messages and revocations live on the first shard, and
// every node agrees on it.
func TestControlClusterRedisShards(t *testing.T) {
	r1, r2 := redistest.Start(t), redistest.Start(t)
	shards := func(c *config.Config) {
		c.Broker.Type, c.Broker.Redis.Shards = "redis", []string{r1.Addr, r2.Addr}
	}
	a, b := startDaemon(t, shards), startDaemon(t, shards)
	waitNodes(t, a, b)
	tok := token(t, "ann", "*")
	wa, wb := a.dial(tok), b.dial(tok)
	r := b.act(http.MethodPost, "/v1/revoke", map[string]any{"user": "ann", "for": "1h"})
	if r.Applied != 2 || len(r.Missing) != 0 {
		t.Fatalf("answer %+v", r)
	}
	for _, w := range []*wsClient{wa, wb} {
		if code := w.expectClose(closeWithin); code != control.CloseRevoked {
			t.Fatalf("close code %d", code)
		}
	}
	if st := a.dialStatus(bearer(tok), ""); st != http.StatusUnauthorized {
		t.Fatalf("handshake %d, want 401", st)
	}
}
