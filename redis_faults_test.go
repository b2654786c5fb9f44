package fanoutd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/fanoutd/fanoutd/ipc"
	"github.com/redis/go-redis/v9"
)

// ackLog is a checker's record of every publish answered 200: which
// payload got which position in which channel. A position given twice is a
// broken promise at once; deliveries are checked against it afterwards.
// Payloads are unique in a test.
type ackLog struct {
	mu      sync.Mutex
	byPos   map[string]string // "channel/epoch/offset" -> payload
	byPay   map[string]string // payload -> "channel/epoch/offset"
	channel map[string]string // payload -> channel
	twice   []string
}

func newAckLog() *ackLog {
	return &ackLog{byPos: map[string]string{}, byPay: map[string]string{}, channel: map[string]string{}}
}

func posKey(channel, epoch, offset any) string {
	return fmt.Sprintf("%v/%v/%v", channel, epoch, offset)
}

func (a *ackLog) add(p ipc.Position, payload string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := posKey(p.Channel, p.Epoch, float64(p.Offset))
	if prev, ok := a.byPos[k]; ok && prev != payload {
		a.twice = append(a.twice, fmt.Sprintf("%s given to %s and %s", k, prev, payload))
	}
	a.byPos[k], a.byPay[payload], a.channel[payload] = payload, k, p.Channel
}

// publishAcked publishes one event (retrying 503s and 504s with its
// idempotency key for up to 15 s) and records its position. payload is a
// JSON value whose text is unique in the test.
func publishAcked(t *testing.T, d *testDaemon, acks *ackLog, channel, payload string) ipc.Position {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pos, err := d.pub.PublishEvents(ctx, []ipc.Event{{Channel: channel, Type: "t",
			Payload: json.RawMessage(payload), IdempotencyKey: "k" + payload}})
		cancel()
		if err == nil {
			acks.add(pos[0], strings.Trim(payload, `"`))
			return pos[0]
		}
		if time.Now().After(deadline) {
			t.Errorf("publish %s still failing after 15 s: %v", payload, err)
			return ipc.Position{}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkDeliveries holds one subscriber's frames against the acks: every
// acknowledged event arrives at its acknowledged position, at most once;
// offsets only grow within a channel's epoch; an acknowledged event that
// never came is excused only by a missed frame for its channel.
func checkDeliveries(t *testing.T, acks *ackLog, frames []map[string]any) {
	t.Helper()
	acks.mu.Lock()
	defer acks.mu.Unlock()
	seen := map[string]int{}
	missed := map[any]bool{}
	last := map[string]float64{}
	for _, m := range frames {
		if m["type"] == "missed" {
			missed[m["channel"]] = true
			continue
		}
		if m["type"] != "t" {
			continue
		}
		payload := fmt.Sprint(m["payload"])
		got := posKey(m["channel"], m["epoch"], m["offset"])
		if acked, ok := acks.byPay[payload]; ok && acked != got {
			t.Errorf("payload %s delivered at %s, acknowledged at %s", payload, got, acked)
		}
		ce := fmt.Sprint(m["channel"], "/", m["epoch"])
		if off := m["offset"].(float64); off <= last[ce] {
			t.Errorf("offset %v of %s after %v: offsets went backwards", off, ce, last[ce])
		}
		last[ce] = m["offset"].(float64)
		seen[payload]++
	}
	for p := range acks.byPay {
		switch {
		case seen[p] > 1:
			t.Errorf("payload %s delivered %d times", p, seen[p])
		case seen[p] == 0 && !missed[acks.channel[p]]:
			t.Errorf("payload %s acknowledged, never delivered, and no missed frame", p)
		}
	}
	for _, s := range acks.twice {
		t.Errorf("position reused: %s", s)
	}
}

// readUntilPayload collects frames until the event with payload arrives.
func readUntilPayload(t *testing.T, w *wsClient, payload string) []map[string]any {
	t.Helper()
	var frames []map[string]any
	for range 10000 {
		m := w.next()
		frames = append(frames, m)
		if m["type"] == "t" && fmt.Sprint(m["payload"]) == payload {
			return frames
		}
	}
	t.Fatalf("payload %s never came", payload)
	return nil
}

// TestRedisRestoredFromOlderSnapshotNeverReusesPositions: Redis saves a
// snapshot, takes more publishes, is killed and restarts from the
// snapshot, i.e. without them. No position may be acknowledged twice; a
// live subscriber sees each event at its position or is told; a client
// resuming from a position the restore forgot gets recovered:false.
func TestRedisRestoredFromOlderSnapshotNeverReusesPositions(t *testing.T) {
	r := redistest.StartPersistent(t)
	a, b := startDaemon(t, onRedis(r)), startDaemon(t, onRedis(r))
	acks := newAckLog()
	w := a.dial(token(t, "u", "*"))
	w.subscribe("c")
	for i := 1; i <= 10; i++ {
		publishAcked(t, b, acks, "c", fmt.Sprint(i))
	}
	if rep, err := r.Do("SAVE"); err != nil || rep != "+OK" {
		t.Fatalf("SAVE: %q %v", rep, err)
	}
	var before ipc.Position
	for i := 11; i <= 30; i++ {
		before = publishAcked(t, b, acks, "c", fmt.Sprint(i))
	}
	frames := readUntilPayload(t, w, "30")

	r.Kill()
	r.Restart() // from the snapshot: offsets 11..30 are forgotten
	for i := 31; i <= 60; i++ {
		publishAcked(t, b, acks, "c", fmt.Sprint(i))
	}
	frames = append(frames, readUntilPayload(t, w, "60")...)
	checkDeliveries(t, acks, frames)

	w2 := a.dial(token(t, "u", "*"))
	if rep := w2.subscribeSince("c", before.Offset, before.Epoch); rep["recovered"] == true {
		t.Errorf("resumed from %d/%s, which Redis forgot: %v, want recovered:false", before.Offset, before.Epoch, rep)
	}
}

// TestRedisStallPastReadTimeoutPublishesAtMostOnce: Redis sleeps longer
// than the client's read timeout while events are published. Each publish
// runs at most once: an event is never stored at two offsets, a first-time
// idempotency key is never answered duplicate:true, and a publish whose
// outcome is unknown is a 504 saying so, which the app retries with its key.
func TestRedisStallPastReadTimeoutPublishesAtMostOnce(t *testing.T) {
	r := redistest.Start(t)
	d := startDaemon(t, onRedis(r))
	w := d.dial(token(t, "u", "*"))
	w.subscribe("c")
	d.publish("c", "t", `"warm"`)
	w.expectEvent("c", "t")

	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		_, _ = r.Do("DEBUG SLEEP 2.5") // Do gives up after 2 s; Redis sleeps on
	}()
	time.Sleep(200 * time.Millisecond)
	results := make([]error, 2)
	positions := make([][]ipc.Position, 2)
	var wg sync.WaitGroup
	for i, key := range []string{"", "first-time"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			positions[i], results[i] = d.pub.PublishEvents(ctx, []ipc.Event{{Channel: "c", Type: "t",
				Payload: json.RawMessage(fmt.Sprint(i)), IdempotencyKey: key}})
		}()
	}
	wg.Wait()
	<-stalled
	for i, err := range results {
		var apiErr *ipc.APIError
		switch {
		case err == nil:
			if positions[i][0].Duplicate {
				t.Errorf("event %d: a first-time key answered duplicate:true", i)
			}
		case errors.As(err, &apiErr) && apiErr.Status == 504 && strings.Contains(apiErr.Message, "outcome unknown"):
		default:
			t.Errorf("event %d: %v, want 200 or a 504 with outcome unknown", i, err)
		}
	}
	// The app's retry with the same key: never a second copy.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.pub.PublishEvents(ctx, []ipc.Event{{Channel: "c", Type: "t", Payload: json.RawMessage("1"),
		IdempotencyKey: "first-time"}}); err != nil {
		t.Fatalf("retry after the stall: %v", err)
	}
	d.publish("c", "t", `"end"`)
	count := map[string]int{}
	for _, m := range readUntilPayload(t, w, "end") {
		if m["type"] == "t" {
			count[fmt.Sprint(m["payload"])]++
		}
	}
	for _, p := range []string{"0", "1"} {
		if count[p] > 1 {
			t.Errorf("payload %s delivered %d times: a publish ran twice", p, count[p])
		}
	}
	if count["1"] != 1 {
		t.Errorf("the keyed event arrived %d times, want once (first try or the retry)", count["1"])
	}
}

// TestRedisAuthLostAndRestoredHealsItself: Redis starts asking for a
// password the daemon does not have, and drops its connections. /readyz
// says why the broker is not ready (Redis's NOAUTH); once the password is
// lifted the daemon heals on its own: ready again, publishes delivered,
// with no restart.
func TestRedisAuthLostAndRestoredHealsItself(t *testing.T) {
	r := redistest.Start(t)
	d := startDaemon(t, onRedis(r))
	w := d.dial(token(t, "u", "*"))
	w.subscribe("c")
	waitFor(t, 15*time.Second, "/readyz 200", func() bool {
		code, _ := get(t, "http://"+d.addr+"/readyz")
		return code == http.StatusOK
	})
	admin := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer func() { _ = admin.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.ConfigSet(ctx, "requirepass", "not-the-daemons").Err(); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"normal", "pubsub"} {
		_ = admin.ClientKillByFilter(ctx, "TYPE", typ, "SKIPME", "yes").Err()
	}
	var body string
	waitFor(t, 20*time.Second, "/readyz 503 naming NOAUTH", func() bool {
		var code int
		code, body = get(t, "http://"+d.addr+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "NOAUTH")
	})
	if err := admin.ConfigSet(ctx, "requirepass", "").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "/readyz 200 again", func() bool {
		code, _ := get(t, "http://"+d.addr+"/readyz")
		return code == http.StatusOK
	})
	d.publish("c", "t", `"after"`)
	readUntilPayload(t, w, "after")
}
