package fanoutd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/fanoutd/fanoutd/ipc"
)

func onRedis(r *redistest.Server) func(*config.Config) {
	return func(c *config.Config) {
		c.Broker.Type = "redis"
		c.Broker.Redis.Address = r.Addr
	}
}

// TestThreeNodesShareChannelsThroughRedis: a publish to any node reaches
// the subscribers on every node, in order, with one numbering.
func TestThreeNodesShareChannelsThroughRedis(t *testing.T) {
	threeNodesShareAChannel(t, onRedis(redistest.Start(t)))
}

// threeNodesShareAChannel runs three daemons on one broker (mutate), a
// subscriber on each, and publishes through all three in turn: every
// subscriber must get every event in order, numbered 1, 2, 3, … in one
// epoch.
func threeNodesShareAChannel(t *testing.T, mutate func(*config.Config)) {
	t.Helper()
	nodes := []*testDaemon{startDaemon(t, mutate), startDaemon(t, mutate), startDaemon(t, mutate)}
	var clients []*wsClient
	for _, d := range nodes {
		w := d.dial(token(t, "u", "*"))
		w.subscribe("project:shared")
		clients = append(clients, w)
	}
	const events = 30
	for i := 1; i <= events; i++ {
		nodes[i%3].publish("project:shared", "story.status.changed", fmt.Sprint(i))
	}
	for n, w := range clients {
		var epoch any
		for want := 1; want <= events; want++ {
			m := w.expectEvent("project:shared", "story.status.changed")
			if m["offset"] != float64(want) || m["payload"] != float64(want) {
				t.Fatalf("node %d: got %v, want offset and payload %d", n, m, want)
			}
			if epoch != nil && m["epoch"] != epoch {
				t.Fatalf("node %d: epoch changed within the run: %v", n, m)
			}
			epoch = m["epoch"]
		}
	}
}

// TestRecoveryAcrossNodesFromRedis: a client that left node A reconnects to
// node C and recovers what was published on node B meanwhile.
func TestRecoveryAcrossNodesFromRedis(t *testing.T) {
	r := redistest.Start(t)
	a, b, c := startDaemon(t, onRedis(r)), startDaemon(t, onRedis(r)), startDaemon(t, onRedis(r))
	tok := token(t, "sam", "*")
	w := a.dial(tok)
	_, epoch := w.subscribePosition("project:x")
	b.publish("project:x", "story.status.changed", "1")
	m := w.expectEvent("project:x", "story.status.changed")
	epoch = m["epoch"].(string)
	_ = w.c.CloseNow()
	publishMany(t, b, "project:x", 2, 21)

	w2 := c.dial(tok)
	rep := w2.subscribeSince("project:x", 1, epoch)
	if rep["recovered"] != true {
		t.Fatalf("reply %v, want recovered", rep)
	}
	for want := 2; want <= 21; want++ {
		if m := w2.expectEvent("project:x", "story.status.changed"); m["offset"] != float64(want) {
			t.Fatalf("replayed %v, want offset %d", m, want)
		}
	}
	b.publish("project:x", "story.status.changed", "22")
	if m := w2.expectEvent("project:x", "story.status.changed"); m["offset"] != float64(22) {
		t.Fatalf("live after replay: %v", m)
	}
}

// TestRedisCrashFailsLoudlyThenRecovers: with Redis killed, a publish is a
// 503 (never a 200); after Redis returns (empty: no persistence), publishes
// work again, subscribers are told that the channel's sequence broke, and
// get the new events.
func TestRedisCrashFailsLoudlyThenRecovers(t *testing.T) {
	r := redistest.Start(t)
	d := startDaemon(t, onRedis(r))
	w := d.dial(token(t, "u", "*"))
	w.subscribe("c")
	d.publish("c", "t", "1")
	w.expectEvent("c", "t")

	r.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := d.pub.Publish(ctx, "c", "t", json.RawMessage("2"))
	var apiErr *ipc.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("publish with Redis down: %v, want a 503", err)
	}

	r.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err = d.pub.Publish(ctx, "c", "t", json.RawMessage("3")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish still failing 15 s after Redis came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	sawMissed := false
	for {
		m := w.next()
		if m["type"] == "missed" {
			sawMissed = true
			continue
		}
		if m["type"] == "t" && m["payload"] == float64(3) {
			break
		}
		t.Fatalf("unexpected %v", m)
	}
	if !sawMissed {
		t.Fatal("the subscriber was not told that the sequence broke")
	}
}

// TestRedisPubSubKilledAndPaused: the pub/sub connection killed by Redis
// (CLIENT KILL TYPE pubsub), then Redis paused and resumed (SIGSTOP,
// SIGCONT): no crash, publishes during the pause fail loudly (504: the
// event was sent and Redis runs it once it wakes up), and after each
// fault the subscriber gets a contiguous sequence or a missed frame before
// the events that follow.
func TestRedisPubSubKilledAndPaused(t *testing.T) {
	r := redistest.Start(t)
	a, b := startDaemon(t, onRedis(r)), startDaemon(t, onRedis(r))
	w := a.dial(token(t, "u", "*"))
	w.subscribe("c")
	next := 1
	publishOK := func() {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := b.pub.Publish(ctx, "c", "t", json.RawMessage(fmt.Sprint(next)))
			cancel()
			if err == nil {
				next++
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("publish %d still failing after 15 s: %v", next, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// expectThrough reads until the event with payload n; offsets must be
	// contiguous unless a missed frame came first.
	last := 0.0
	expectThrough := func(n int) {
		t.Helper()
		for {
			m := w.next()
			if m["type"] == "missed" {
				last = -1
				continue
			}
			off := m["offset"].(float64)
			if last >= 0 && off != last+1 {
				t.Fatalf("offset %v after %v without a missed frame", off, last)
			}
			last = off
			if m["payload"] == float64(n) {
				return
			}
		}
	}
	publishOK()
	expectThrough(1)

	if _, err := r.Do("CLIENT KILL TYPE pubsub"); err != nil {
		t.Fatal(err)
	}
	publishOK() // may go out before node A's link is back: Resync catches it up
	publishOK()
	expectThrough(next - 1)

	r.Signal(syscall.SIGSTOP)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := b.pub.Publish(ctx, "c", "t", json.RawMessage(`"paused"`))
	cancel()
	var apiErr *ipc.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 504 || !apiErr.OutcomeUnknown() {
		r.Signal(syscall.SIGCONT)
		t.Fatalf("publish to a paused Redis: %v, want a 504 with outcome unknown", err)
	}
	r.Signal(syscall.SIGCONT)
	publishOK()
	expectThrough(next - 1)
}

// TestRedisShardsAndSentinel: channels spread over two Redis shards still
// reach every node in order, and a dead shard fails only its own channels;
// a node that finds its master through Sentinel works the same.
func TestRedisShardsAndSentinel(t *testing.T) {
	r1, r2 := redistest.Start(t), redistest.Start(t)
	sharded := func(c *config.Config) {
		c.Broker.Type, c.Broker.Redis.Shards = "redis", []string{r1.Addr, r2.Addr}
	}
	a, b := startDaemon(t, sharded), startDaemon(t, sharded)
	// 32 channels: all on one of two shards by chance is a 2^-31 event.
	var channels []string
	for i := range 32 {
		channels = append(channels, fmt.Sprint("s:", i))
	}
	w := a.dial(token(t, "u", "*"))
	for _, ch := range channels {
		w.subscribe(ch)
	}
	for _, ch := range channels {
		b.publish(ch, "t", "1")
		w.expectEvent(ch, "t")
	}
	// Channels' meta hashes per shard (DBSIZE would count the nodes'
	// liveness keys too): KEYS answers with "*<count>" first.
	onR1, _ := r1.Do("KEYS fanoutd:m:*")
	onR2, _ := r2.Do("KEYS fanoutd:m:*")
	if onR1 == "*0" || onR2 == "*0" {
		t.Fatalf("channels per shard: %s and %s, want channels on both", onR1, onR2)
	}

	r2.Kill()
	var failed, ok int
	for _, ch := range channels {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := b.pub.Publish(ctx, ch, "t", json.RawMessage("2"))
		cancel()
		if err != nil {
			failed++
		} else {
			ok++
			w.expectEvent(ch, "t")
		}
	}
	if failed == 0 || ok == 0 {
		t.Fatalf("with one shard down: %d publishes failed, %d went through; want some of each", failed, ok)
	}

	s := redistest.StartSentinel(t, r1)
	c := startDaemon(t, func(c *config.Config) {
		c.Broker.Type, c.Broker.Redis.SentinelMaster, c.Broker.Redis.SentinelAddresses = "redis", "mymaster", []string{s}
	})
	wc := c.dial(token(t, "u", "*"))
	wc.subscribe("via-sentinel")
	c.publish("via-sentinel", "t", "1")
	wc.expectEvent("via-sentinel", "t")
}

// TestPresenceAcrossNodesThroughRedis: presence asked of one node lists the
// subscribers of every node, and a node that stops takes its own with it.
func TestPresenceAcrossNodesThroughRedis(t *testing.T) {
	r := redistest.Start(t)
	a, b := startDaemon(t, onRedis(r)), startDaemon(t, onRedis(r))
	a.dial(token(t, "ann", "*")).subscribe("room:1")
	b.dial(token(t, "bob", "*")).subscribe("room:1")
	users := func() map[string]bool {
		var p presenceAnswer
		a.getJSON("/v1/channels/room:1/presence", &p)
		out := map[string]bool{}
		for _, c := range p.Clients {
			out[c.User] = true
		}
		return out
	}
	waitFor(t, 10*time.Second, "ann and bob in node A's presence", func() bool {
		u := users()
		return len(u) == 2 && u["ann"] && u["bob"]
	})
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "only ann once node B stopped", func() bool {
		u := users()
		return len(u) == 1 && u["ann"]
	})
}
