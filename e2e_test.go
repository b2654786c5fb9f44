package fanoutd

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/internal/wstest"
	"github.com/gobwas/ws"
)

func TestTokenCarriers(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "alice", "project:*")
	cases := []struct {
		name  string
		opts  *websocket.DialOptions
		query string
	}{
		{name: "authorization header", opts: &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}}},
		{name: "subprotocol", opts: &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}}},
		{name: "query parameter", opts: &websocket.DialOptions{}, query: "?token=" + tok},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := d.dialWith(tc.opts, tc.query)
			if len(tc.opts.Subprotocols) > 0 && w.c.Subprotocol() != "fanout.v1" {
				t.Fatalf("negotiated %q, want only fanout.v1 echoed", w.c.Subprotocol())
			}
			ch := fmt.Sprintf("project:carrier-%d", i)
			w.subscribe(ch)
			d.publish(ch, "story.status.changed", `{"storyId":"6-5","status":"done"}`)
			m := w.expectEvent(ch, "story.status.changed")
			if p, _ := m["payload"].(map[string]any); p["status"] != "done" {
				t.Fatalf("payload %v", m["payload"])
			}
		})
	}
}

func TestUnauthorizedUpgrades(t *testing.T) {
	d := startDaemon(t)
	expired, err := jwtauth.Mint([]byte(testSecret), "alice", []string{"*"}, -time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := jwtauth.Mint([]byte("another-secret-that-is-long-enough-xyz"), "alice", []string{"*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"missing": "", "expired": expired, "forged": forged, "garbage": "a.b.c"} {
		t.Run(name, func(t *testing.T) {
			o := &websocket.DialOptions{}
			if tok != "" {
				o.Subprotocols = []string{"fanout.v1", "bearer." + tok}
			}
			if got := d.dialStatus(o, ""); got != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", got)
			}
		})
	}
	if n := d.srv.Stats().Connections; n != 0 {
		t.Fatalf("%d sessions after refused upgrades", n)
	}
}

func TestPublishBatchAndNDJSONInOrder(t *testing.T) {
	d := startDaemon(t)
	w := d.dial(token(t, "bob", "*"))
	w.subscribe("metrics:cpu")
	code, body := d.post("application/json",
		`[{"channel":"metrics:cpu","type":"tick","payload":1},{"channel":"metrics:cpu","type":"tick","payload":2},`+
			`{"channel":"metrics:cpu","type":"tick","payload":3}]`)
	if code != 200 || !strings.Contains(body, `"published":3`) {
		t.Fatalf("batch: %d %s", code, body)
	}
	code, body = d.post("application/x-ndjson",
		"{\"channel\":\"metrics:cpu\",\"type\":\"tick\",\"payload\":4}\n{\"channel\":\"metrics:cpu\",\"type\":\"tick\",\"payload\":5}\n"+
			"{\"channel\":\"metrics:cpu\",\"type\":\"tick\",\"payload\":6}\n")
	if code != 200 || !strings.Contains(body, `"published":3`) {
		t.Fatalf("ndjson: %d %s", code, body)
	}
	for want := 1.0; want <= 6; want++ {
		if m := w.expectEvent("metrics:cpu", "tick"); m["payload"] != want {
			t.Fatalf("payload %v, want %v", m["payload"], want)
		}
	}
	// A batch with one bad event publishes nothing and names the bad one.
	code, body = d.post("application/json",
		`[{"channel":"metrics:cpu","type":"tick","payload":7},{"channel":"metrics:cpu","type":"welcome"}]`)
	if code != 400 || !strings.Contains(body, `"index":1`) || !strings.Contains(body, "reserved") {
		t.Fatalf("bad batch: %d %s", code, body)
	}
	d.publish("metrics:cpu", "tick", "8")
	if m := w.expectEvent("metrics:cpu", "tick"); m["payload"] != 8.0 {
		t.Fatalf("the refused batch leaked: got payload %v", m["payload"])
	}
}

func TestTCPPublishAPINeedsKey(t *testing.T) {
	const key = "an-api-key-of-sixteen-plus"
	d := startDaemon(t, func(c *config.Config) { c.API.Key = key })
	w := d.dial(token(t, "carol", "*"))
	w.subscribe("news")
	post := func(auth string) int {
		req, _ := http.NewRequest("POST", "http://"+d.addr+"/v1/publish",
			strings.NewReader(`{"channel":"news","type":"item","payload":{"n":1}}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(""); got != 401 {
		t.Fatalf("no key: %d", got)
	}
	if got := post("Bearer wrong-key-wrong-key-wrong"); got != 401 {
		t.Fatalf("wrong key: %d", got)
	}
	if got := post("Bearer " + key); got != 200 {
		t.Fatalf("right key: %d", got)
	}
	w.expectEvent("news", "item")

	plain := startDaemon(t) // no api.key: no TCP API at all
	resp, err := http.Post("http://"+plain.addr+"/v1/publish", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("TCP API without a key: %d, want 404", resp.StatusCode)
	}
}

func TestForbiddenChannelAndADRProjectID(t *testing.T) {
	d := startDaemon(t)
	w := d.dial(token(t, "dave", "project:*", "user:{sub}"))
	w.send(`{"action":"subscribe","channel":"admin:secrets","id":"7"}`)
	if m := w.next(); m["type"] != "error" || m["code"] != "forbidden" || m["id"] != "7" {
		t.Fatalf("got %v, want a forbidden error for id 7", m)
	}
	w.send(`{"action":"subscribe","channel":"user:erin"}`)
	if m := w.next(); m["code"] != "forbidden" {
		t.Fatalf("another user's channel: %v", m)
	}
	w.subscribe("user:dave")
	// The ADR-004 dashboard's own message, unchanged.
	w.send(`{"action":"subscribe","projectId":"abc-123"}`)
	if m := w.next(); m["type"] != "subscribed" || m["channel"] != "project:abc-123" || m["projectId"] != "abc-123" {
		t.Fatalf("ADR subscribe reply %v", m)
	}
	d.publish("project:abc-123", "story.status.changed", `{"storyId":"6-5","status":"done"}`)
	if m := w.expectEvent("project:abc-123", "story.status.changed"); m["projectId"] != "abc-123" {
		t.Fatalf("event lacks projectId: %v", m)
	}
	w.send(`{"action":"ping","id":"p"}`)
	if m := w.next(); m["type"] != "pong" || m["id"] != "p" {
		t.Fatalf("ping reply %v", m)
	}
}

// TestHeartbeatClosesSilentClient: a real client that never reads never
// answers pings, and is closed with 4002.
func TestHeartbeatClosesSilentClient(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Heartbeat.Interval = 100 * time.Millisecond
		c.Heartbeat.Timeout = 300 * time.Millisecond
	})
	w := d.dial(token(t, "frank", "*"))
	deadline := time.Now().Add(10 * time.Second)
	for d.srv.Stats().Transport.HeartbeatTimeout == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the silent client was never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := w.tryNext(10 * time.Second)
	if got := websocket.CloseStatus(err); got != 4002 {
		t.Fatalf("close status %d (%v), want 4002", got, err)
	}
}

// TestStalledAndDrippingClientsDoNotDelayOthers runs the daemon with one
// worker: a client that stops reading and one that drips a command byte by
// byte are both on the channel, and a real client still gets every event.
func TestStalledAndDrippingClientsDoNotDelayOthers(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Workers = 1
		c.Limits.WriteQueueBytes = 128 << 10
	})
	tok := token(t, "gina", "*")
	auth := "Authorization: Bearer " + tok + "\r\n"

	stalled, head := wstest.Connect(t, d.addr, "/ws", auth)
	if !strings.HasPrefix(head, "HTTP/1.1 101") {
		t.Fatalf("stalled client head %q", head)
	}
	stalled.Write(wstest.Text(`{"action":"subscribe","channel":"feed"}`))
	drip, _ := wstest.Connect(t, d.addr, "/ws", auth)
	sub := wstest.Text(`{"action":"subscribe","channel":"feed","id":"drip"}`)
	drip.Write(sub[:3])

	w := d.dial(tok)
	w.subscribe("feed")
	// Up to 12.8 MB: more than the queue bound plus what loopback socket
	// buffers absorb.
	payload := `{"blob":"` + strings.Repeat("x", 32<<10) + `"}`
	const events, every = 400, 20
	overflowed := false
	for i := range events {
		d.publish("feed", "chunk", payload)
		w.expectEvent("feed", "chunk")
		if i%every == 0 {
			drip.Write(sub[3+i/every : 4+i/every]) // one more byte now and then
		}
		if d.srv.Stats().Transport.SlowConsumer == 1 {
			overflowed = true
			drip.Write(sub[4+i/every:])
			break
		}
	}
	if !overflowed {
		t.Fatal("the stalled client was never closed as a slow consumer")
	}
	// It reads again within the close timeout: whole frames, then 4001.
	if code := stalled.ReadClose(); code != 4001 {
		t.Fatalf("stalled client close %d, want 4001", code)
	}
	for {
		h, p := drip.ReadFrame()
		if h.OpCode == ws.OpText && bytes.Contains(p, []byte(`"id":"drip"`)) {
			break
		}
	}
	d.publish("feed", "chunk", `{"after":true}`)
	w.expectEvent("feed", "chunk")
}

func TestMalformedFramesAndMessages(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "hal", "*")
	raw, _ := wstest.Connect(t, d.addr, "/ws", "Authorization: Bearer "+tok+"\r\n")
	raw.Write(wstest.Frame(true, ws.OpText, []byte(`{"action":"ping"}`), false)) // unmasked
	if code := raw.ReadClose(); code != 1002 {
		t.Fatalf("unmasked frame: close %d, want 1002", code)
	}
	bin, _ := wstest.Connect(t, d.addr, "/ws", "Authorization: Bearer "+tok+"\r\n")
	bin.Write(wstest.Frame(true, ws.OpBinary, []byte{1, 2}, true))
	if code := bin.ReadClose(); code != 1003 {
		t.Fatalf("binary message: close %d, want 1003", code)
	}
	w := d.dial(tok)
	for _, bad := range []string{`{nope`, `[]`, `{"action":"dance","id":"9"}`, `{"action":"subscribe","channel":"has space"}`} {
		w.send(bad)
		if m := w.next(); m["type"] != "error" {
			t.Fatalf("%s: got %v, want an error frame", bad, m)
		}
	}
	w.send(`{"action":"ping","id":"still-here"}`)
	if m := w.next(); m["type"] != "pong" {
		t.Fatalf("connection did not survive bad messages: %v", m)
	}
}

// TestCurlPublishOverUnixSocket is the README's own command.
func TestCurlPublishOverUnixSocket(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is required for this test (.ci/run installs it)")
	}
	d := startDaemon(t)
	w := d.dial(token(t, "ivy", "*"))
	w.subscribe("project:demo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "--fail-with-body", "--unix-socket", d.socket,
		"-H", "Content-Type: application/json",
		"-d", `{"channel":"project:demo","type":"story.status.changed","payload":{"storyId":"6-5","status":"done"}}`,
		"http://fanoutd/v1/publish").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if !strings.Contains(string(out), `"published":1`) {
		t.Fatalf("curl output %s", out)
	}
	w.expectEvent("project:demo", "story.status.changed")
}

func TestStatsEndpoint(t *testing.T) {
	d := startDaemon(t)
	w := d.dial(token(t, "jo", "*"))
	w.subscribe("a")
	w.subscribe("b")
	d.publish("a", "x", "1")
	w.expectEvent("a", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := d.pub.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"connections": 1, "subscriptions": 2, "channels": 2, "published": 1, "delivered": 1} {
		if st[k] != want {
			t.Errorf("stats %s = %v, want %v", k, st[k], want)
		}
	}
	if g, _ := st["goroutines"].(float64); g < 1 {
		t.Errorf("stats goroutines = %v", st["goroutines"])
	}
}
