package fanoutd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// The control routes' part of the contract table (control/, README
// "Control plane and `fanoutd ctl`"): every documented status of each,
// produced by the contract fixture's daemons.

// rarelySeenControl are the control answers' properties no call here
// produces.
var rarelySeenControl = map[string]string{
	"#/components/schemas/ControlTapKeepalive/properties/kind": "written after 15 s without a line; no test waits that long",
}

// controlCalls are the control routes' calls; they run after calls()'s,
// with ann connected and subscribed to project:abc.
func (f *contractFixture) controlCalls() []contractCall {
	const js = "application/json"
	big := `{"user":"` + strings.Repeat("x", 70<<10) + `"}`
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	carol := func(t *testing.T) {
		c := f.d.dial(jtiToken(t, "carol", "tok-carol", "*"))
		c.subscribe("project:abc")
	}
	var taps []*http.Response
	closeTaps := func(*testing.T) {
		for _, r := range taps {
			_ = r.Body.Close()
		}
		taps = nil
	}
	fillTaps := func(t *testing.T) {
		t.Cleanup(func() { closeTaps(t) })
		f.waitTaps(t, 0)
		for range 16 { // control.Options.MaxTaps' default
			resp, err := f.clients["unix"].Get(f.bases["unix"] + "/v1/tap")
			if err != nil {
				t.Fatal(err)
			}
			taps = append(taps, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("tap %d: %d", len(taps), resp.StatusCode)
			}
		}
		f.waitTaps(t, 16)
	}
	// tapped publishes an event and applies an action while a tap is open.
	tapped := func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := f.d.srv.Publish(ctx, Event{Channel: "project:tap", Type: "t", Payload: json.RawMessage(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
		f.post(t, "/v1/subscribe", `{"user":"nobody","channel":"project:tap"}`)
	}
	// stalled publishes, while nobody reads the tap, far more than its
	// queue (1,024 lines) and the socket buffers hold: lines are dropped,
	// and the first line read after them says how many.
	stalled := func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pad := strings.Repeat("x", 1024)
		for i := range 3000 {
			payload := json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad))
			if _, err := f.d.srv.Publish(ctx, Event{Channel: "project:burst", Type: "t", Payload: payload}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var ghost *ghostPeer
	answering := func(on bool) func(*testing.T) {
		return func(t *testing.T) {
			if ghost == nil {
				ghost = f.startGhost(t)
			}
			ghost.answer.Store(on)
		}
	}
	calls := []contractCall{
		// What only several nodes produce: a node that answers an error, and
		// one that does not answer (the action waits 2 s for it).
		{op: "post /v1/disconnect", via: "ghost", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"user":"nobody"}`, status: 200, before: answering(true)},
		{op: "get /v1/connections", via: "ghost", method: "GET", path: "/v1/connections", status: 200},
		{op: "post /v1/disconnect", via: "ghost", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"user":"nobody"}`, status: 200, before: answering(false)},
		{op: "get /v1/connections", via: "ghost", method: "GET", path: "/v1/connections", status: 200},
		// Reads.
		{op: "get /v1/connections", via: "unix", method: "GET", path: "/v1/connections", status: 200, before: carol},
		{op: "get /v1/connections", via: "tcp", method: "GET", path: "/v1/connections?local=1&user=carol", status: 200},
		{op: "get /v1/connections", via: "unix", method: "GET", path: "/v1/connections?user=carol&channel=project%3Aabc", status: 200},
		{op: "get /v1/connections", via: "unix", method: "GET", path: "/v1/connections?channel=bad%20name", status: 200},
		{op: "get /v1/connections", via: "redis", method: "GET", path: "/v1/connections", status: 503},
		{op: "get /v1/connections", via: "unix", method: "POST", path: "/v1/connections", status: 405},
		{op: "get /v1/nodes", via: "unix", method: "GET", path: "/v1/nodes", status: 200},
		{op: "get /v1/nodes", via: "tcp", method: "DELETE", path: "/v1/nodes", status: 405},
		// Server-side subscriptions.
		{op: "post /v1/subscribe", via: "unix", method: "POST", path: "/v1/subscribe", ctype: js, body: `{"user":"carol","channel":"project:ctl"}`, status: 200},
		{op: "post /v1/subscribe", via: "tcp", method: "POST", path: "/v1/subscribe", ctype: js, body: `{"connection_id":"nobody-1","channel":"project:ctl"}`, status: 200},
		{op: "post /v1/subscribe", via: "unix", method: "POST", path: "/v1/subscribe", ctype: js, body: `{"user":"carol"}`, status: 400},
		{op: "post /v1/subscribe", via: "unix", method: "POST", path: "/v1/subscribe", ctype: js, body: `{"channel":"project:ctl"}`, status: 400},
		{op: "post /v1/subscribe", via: "unix", method: "POST", path: "/v1/subscribe", ctype: js, body: `{"user":"carol","channel":"bad name"}`, status: 400},
		{op: "post /v1/subscribe", via: "unix", method: "POST", path: "/v1/subscribe", ctype: js, body: big, status: 413},
		{op: "post /v1/subscribe", via: "redis", method: "POST", path: "/v1/subscribe", ctype: js, body: `{"user":"carol","channel":"project:ctl"}`, status: 503},
		{op: "post /v1/subscribe", via: "unix", method: "GET", path: "/v1/subscribe", status: 405},
		{op: "post /v1/unsubscribe", via: "unix", method: "POST", path: "/v1/unsubscribe", ctype: js, body: `{"user":"carol","channel":"project:ctl","reason":"removed from project"}`, status: 200},
		{op: "post /v1/unsubscribe", via: "unix", method: "POST", path: "/v1/unsubscribe", ctype: js, body: `{"channel":"project:ctl"}`, status: 200},
		{op: "post /v1/unsubscribe", via: "unix", method: "POST", path: "/v1/unsubscribe", ctype: js, body: `{"user":"carol","connection_id":"x","channel":"project:ctl"}`, status: 400},
		{op: "post /v1/unsubscribe", via: "unix", method: "POST", path: "/v1/unsubscribe", ctype: js, body: `{"channel":"*"}`, status: 400},
		{op: "post /v1/unsubscribe", via: "unix", method: "POST", path: "/v1/unsubscribe", ctype: js, body: big, status: 413},
		{op: "post /v1/unsubscribe", via: "redis", method: "POST", path: "/v1/unsubscribe", ctype: js, body: `{"channel":"project:ctl"}`, status: 503},
		{op: "post /v1/unsubscribe", via: "unix", method: "PUT", path: "/v1/unsubscribe", status: 405},
		// History.
		{op: "get /v1/channels/{channel}/history", via: "unix", method: "GET", path: "/v1/channels/project%3Aabc/history?limit=2", status: 200},
		{op: "get /v1/channels/{channel}/history", via: "tcp", method: "GET", path: "/v1/channels/project%3Aabc/history?since=1&epoch=another", status: 200},
		{op: "get /v1/channels/{channel}/history", via: "unix", method: "GET", path: "/v1/channels/project%3Anever/history", status: 200},
		{op: "get /v1/channels/{channel}/history", via: "unix", method: "GET", path: "/v1/channels/c/history?since=x", status: 400},
		{op: "get /v1/channels/{channel}/history", via: "unix", method: "GET", path: "/v1/channels/c/history?limit=-1", status: 400},
		{op: "get /v1/channels/{channel}/history", via: "unix", method: "GET", path: "/v1/channels/bad%20name/history", status: 400},
		{op: "get /v1/channels/{channel}/history", via: "redis", method: "GET", path: "/v1/channels/c/history", status: 503},
		{op: "get /v1/channels/{channel}/history", via: "unix", method: "POST", path: "/v1/channels/c/history", status: 405},
		{op: "delete /v1/channels/{channel}/history", via: "unix", method: "DELETE", path: "/v1/channels/project%3Aold/history", status: 200},
		{op: "delete /v1/channels/{channel}/history", via: "unix", method: "DELETE", path: "/v1/channels/bad%20name/history", status: 400},
		{op: "delete /v1/channels/{channel}/history", via: "redis", method: "DELETE", path: "/v1/channels/c/history", status: 503},
		{op: "delete /v1/channels/{channel}/history", via: "unix", method: "PATCH", path: "/v1/channels/c/history", status: 405},
		// Disconnects and revocations.
		{op: "post /v1/disconnect", via: "unix", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"user":"carol","code":4004,"reason":"logged out"}`, status: 200},
		{op: "post /v1/disconnect", via: "tcp", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"channel":"project:none"}`, status: 200},
		{op: "post /v1/disconnect", via: "unix", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"user":"carol","code":1000}`, status: 400},
		{op: "post /v1/disconnect", via: "unix", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"user":"carol","jti":"tok-carol"}`, status: 400},
		{op: "post /v1/disconnect", via: "unix", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"user":"carol","nope":1}`, status: 400},
		{op: "post /v1/disconnect", via: "unix", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"user":`, status: 400},
		{op: "post /v1/disconnect", via: "unix", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"channel":"bad name"}`, status: 400},
		{op: "post /v1/disconnect", via: "unix", method: "POST", path: "/v1/disconnect", ctype: js, body: big, status: 413},
		{op: "post /v1/disconnect", via: "redis", method: "POST", path: "/v1/disconnect", ctype: js, body: `{"user":"carol"}`, status: 503},
		{op: "post /v1/disconnect", via: "unix", method: "GET", path: "/v1/disconnect", status: 405},
		{op: "post /v1/revoke", via: "unix", method: "POST", path: "/v1/revoke", ctype: js, body: `{"user":"mallory","for":"1h","reason":"banned"}`, status: 200},
		{op: "post /v1/revoke", via: "tcp", method: "POST", path: "/v1/revoke", ctype: js, body: `{"jti":"tok-stolen","until":"` + until + `"}`, status: 200},
		{op: "post /v1/revoke", via: "unix", method: "POST", path: "/v1/revoke", ctype: js, body: `{"user":"mallory"}`, status: 400},
		{op: "post /v1/revoke", via: "unix", method: "POST", path: "/v1/revoke", ctype: js, body: `{"user":"mallory","for":"1h","until":"` + until + `"}`, status: 400},
		{op: "post /v1/revoke", via: "unix", method: "POST", path: "/v1/revoke", ctype: js, body: `{"channel":"c","for":"1h"}`, status: 400},
		{op: "post /v1/revoke", via: "unix", method: "POST", path: "/v1/revoke", ctype: js, body: big, status: 413},
		{op: "post /v1/revoke", via: "redis", method: "POST", path: "/v1/revoke", ctype: js, body: `{"user":"mallory","for":"1h"}`, status: 503},
		{op: "post /v1/revoke", via: "unix", method: "GET", path: "/v1/revoke", status: 405},
		{op: "get /v1/revocations", via: "unix", method: "GET", path: "/v1/revocations", status: 200},
		{op: "get /v1/revocations", via: "unix", method: "POST", path: "/v1/revocations", status: 405},
		{op: "delete /v1/revoke", via: "unix", method: "DELETE", path: "/v1/revoke", ctype: js, body: `{"user":"mallory"}`, status: 200},
		{op: "delete /v1/revoke", via: "tcp", method: "DELETE", path: "/v1/revoke", ctype: js, body: `{"jti":"tok-stolen"}`, status: 200},
		{op: "delete /v1/revoke", via: "unix", method: "DELETE", path: "/v1/revoke", ctype: js, body: `{}`, status: 400},
		{op: "delete /v1/revoke", via: "unix", method: "DELETE", path: "/v1/revoke", ctype: js, body: big, status: 413},
		{op: "delete /v1/revoke", via: "redis", method: "DELETE", path: "/v1/revoke", ctype: js, body: `{"user":"mallory"}`, status: 503},
		{op: "delete /v1/revoke", via: "unix", method: "PATCH", path: "/v1/revoke", status: 405},
		{op: "get /v1/revocations", via: "unix", method: "GET", path: "/v1/revocations", status: 200}, // empty again
		// The tap.
		{op: "get /v1/tap", via: "unix", method: "GET", path: "/v1/tap?channels=project:*", status: 200, lines: 2, during: tapped},
		{op: "get /v1/tap", via: "unix", method: "GET", path: "/v1/tap?channels=project:burst", status: 200, lines: 1026, during: stalled},
		{op: "get /v1/tap", via: "tcp", method: "GET", path: "/v1/tap", status: 404},
		{op: "get /v1/tap", via: "unix", method: "POST", path: "/v1/tap", status: 405},
		{op: "get /v1/tap", via: "unix", method: "GET", path: "/v1/tap", status: 503, before: fillTaps},
		{op: "get /v1/nodes", via: "unix", method: "GET", path: "/v1/nodes", status: 200, before: closeTaps},
	}
	for _, r := range []struct{ op, method, path string }{
		{"post /v1/disconnect", "POST", "/v1/disconnect"}, {"post /v1/revoke", "POST", "/v1/revoke"},
		{"delete /v1/revoke", "DELETE", "/v1/revoke"}, {"get /v1/revocations", "GET", "/v1/revocations"},
		{"post /v1/subscribe", "POST", "/v1/subscribe"}, {"post /v1/unsubscribe", "POST", "/v1/unsubscribe"},
		{"get /v1/channels/{channel}/history", "GET", "/v1/channels/c/history"},
		{"delete /v1/channels/{channel}/history", "DELETE", "/v1/channels/c/history"},
		{"get /v1/connections", "GET", "/v1/connections"}, {"get /v1/nodes", "GET", "/v1/nodes"},
		{"get /v1/tap", "GET", "/v1/tap"},
	} {
		calls = append(calls,
			contractCall{op: r.op, via: "tcp-nokey", method: r.method, path: r.path, body: `{"user":"carol"}`, status: 401},
			contractCall{op: r.op, via: "peer", method: r.method, path: r.path, body: `{"user":"carol"}`, status: 403})
	}
	return calls
}

// waitTaps waits until the daemon has n taps open (GET /v1/nodes).
func (f *contractFixture) waitTaps(t *testing.T, n int) {
	t.Helper()
	var got struct{ Taps int }
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		resp, err := f.clients["unix"].Get(f.bases["unix"] + "/v1/nodes")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		_ = resp.Body.Close()
		if err == nil && got.Taps == n {
			return
		}
	}
	t.Fatalf("%d taps open, want %d", got.Taps, n)
}

// post sends an action over the Unix socket and wants a 200.
func (f *contractFixture) post(t *testing.T, path, body string) {
	t.Helper()
	resp, err := f.clients["unix"].Post(f.bases["unix"]+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

// ghostPeer is a second node on a daemon's Redis control bus, played by
// the test with the bus's own messages: it says hello (so the daemon
// waits for it), and answers each action with an error, or not at all.
// It produces what only several nodes do: "missing", and a node's
// "error" (for the connections list, "errors").
type ghostPeer struct {
	answer atomic.Bool // true: an error ack; false: silence
}

// startGhost starts a daemon on a Redis of its own with a ghost peer, and
// registers its socket as the "ghost" client; it returns once the daemon
// knows the ghost.
func (f *contractFixture) startGhost(t *testing.T) *ghostPeer {
	t.Helper()
	r := redistest.Start(t)
	d := startDaemon(t, onRedis(r))
	f.clients["ghost"], f.bases["ghost"] = unixHTTPClient(d.socket), "http://fanoutd"
	g := &ghostPeer{}
	rc := redis.NewClient(&redis.Options{Addr: r.Addr})
	ctx, cancel := context.WithCancel(context.Background())
	sub := rc.Subscribe(ctx, "fanoutd:control")
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); _ = sub.Close(); wg.Wait(); _ = rc.Close() })
	send := func(v map[string]any) {
		b, _ := json.Marshal(v)
		_ = rc.Publish(ctx, "fanoutd:control", b).Err()
	}
	wg.Go(func() { // hello twice per daemon hello interval, until the test ends
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			send(map[string]any{"kind": "hello", "from": "ghost"})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	wg.Go(func() {
		for m := range sub.Channel() {
			var e struct{ Kind, From, ID string }
			if json.Unmarshal([]byte(m.Payload), &e) == nil && e.Kind == "action" && g.answer.Load() {
				send(map[string]any{"kind": "ack", "from": "ghost", "id": e.ID, "error": "the ghost refuses"})
			}
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n struct{ Nodes []string }
		resp, err := f.clients["ghost"].Get(f.bases["ghost"] + "/v1/nodes")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&n)
		_ = resp.Body.Close()
		if slices.Contains(n.Nodes, "ghost") {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon does not know the ghost: %v", n.Nodes)
		}
	}
}
