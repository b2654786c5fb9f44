package fanoutd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/control"
	"github.com/golang-jwt/jwt/v5"
)

// ctl returns a control client on the daemon's socket.
func (d *testDaemon) ctl() *control.Client {
	c := control.NewClient(d.socket)
	d.t.Cleanup(c.Close)
	return c
}

// act posts a control action and returns its answer.
func (d *testDaemon) act(method, path string, body any) control.Result {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var r control.Result
	if err := d.ctl().Call(ctx, method, path, body, &r); err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// get reads a control route into out.
func (d *testDaemon) get(path string, out any) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.ctl().Call(ctx, http.MethodGet, path, nil, out); err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
}

// expectClose reads until the connection ends within d and returns its
// close code.
func (w *wsClient) expectClose(d time.Duration) websocket.StatusCode {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for range 1000 {
		if _, _, err := w.c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				w.t.Fatalf("not closed within %s", d)
			}
			return websocket.CloseStatus(err)
		}
	}
	w.t.Fatal("no close after 1000 messages")
	return 0
}

// stillOpen proves the connection works: a ping is answered, and nothing
// else came before it.
func (w *wsClient) stillOpen() {
	w.t.Helper()
	w.send(`{"action":"ping","id":"alive"}`)
	if m := w.next(); m["type"] != "pong" {
		w.t.Fatalf("got %v, want only the pong", m)
	}
}

// jtiToken is a token with a "jti".
func jtiToken(t *testing.T, sub, jti string, channels ...string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "jti": jti, "channels": channels, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func bearer(tok string) *websocket.DialOptions {
	return &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}}
}

// TestControlDisconnectByUser: every connection of the user is closed with
// the "session changed" code, nobody else's.
func TestControlDisconnectByUser(t *testing.T) {
	d := startDaemon(t)
	a1, a2, b := d.dial(token(t, "ann", "*")), d.dial(token(t, "ann", "*")), d.dial(token(t, "bob", "*"))
	r := d.act(http.MethodPost, "/v1/disconnect", map[string]any{"user": "ann", "reason": "logged out"})
	if r.Applied != 2 || len(r.Missing) != 0 || len(r.Nodes) != 1 {
		t.Fatalf("answer %+v, want 2 applied on this node", r)
	}
	for _, w := range []*wsClient{a1, a2} {
		if code := w.expectClose(10 * time.Second); code != control.CloseDisconnected {
			t.Fatalf("close code %d, want %d", code, control.CloseDisconnected)
		}
	}
	b.stillOpen()
}

// TestControlDisconnectByConnectionAndChannel: the other two selectors,
// and a custom code.
func TestControlDisconnectByConnectionAndChannel(t *testing.T) {
	d := startDaemon(t)
	x, y := d.dial(token(t, "x", "*")), d.dial(token(t, "y", "*"))
	y.subscribe("room:1")
	var conns []map[string]any
	d.get("/v1/connections?user=x&local=1", &conns)
	if len(conns) != 1 {
		t.Fatalf("connections of x: %v", conns)
	}
	d.act(http.MethodPost, "/v1/disconnect", map[string]any{"connection_id": conns[0]["connection_id"], "code": 4100})
	if code := x.expectClose(10 * time.Second); code != 4100 {
		t.Fatalf("close code %d, want 4100", code)
	}
	d.act(http.MethodPost, "/v1/disconnect", map[string]any{"channel": "room:1"})
	if code := y.expectClose(10 * time.Second); code != control.CloseDisconnected {
		t.Fatalf("close code %d", code)
	}
}

// TestControlBadActions: malformed requests are 400 and change nothing.
func TestControlBadActions(t *testing.T) {
	d := startDaemon(t)
	w := d.dial(token(t, "ann", "*"))
	for name, c := range map[string]struct {
		path string
		body any
	}{
		"no selector":     {"/v1/disconnect", map[string]any{"reason": "x"}},
		"two selectors":   {"/v1/disconnect", map[string]any{"user": "ann", "connection_id": "c"}},
		"code too low":    {"/v1/disconnect", map[string]any{"user": "ann", "code": 1000}},
		"revoke no end":   {"/v1/revoke", map[string]any{"user": "ann"}},
		"revoke past":     {"/v1/revoke", map[string]any{"user": "ann", "until": time.Now().Add(-time.Hour)}},
		"revoke bad for":  {"/v1/revoke", map[string]any{"user": "ann", "for": "soon"}},
		"unknown field":   {"/v1/disconnect", map[string]any{"usr": "ann"}},
		"subscribe no ch": {"/v1/subscribe", map[string]any{"user": "ann"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := d.ctl().Call(ctx, http.MethodPost, c.path, c.body, nil)
		cancel()
		var ae *control.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Errorf("%s: %v, want 400", name, err)
		}
	}
	w.stillOpen()
}

// TestControlRevoke: a revoked user's connections close with 4403, the
// next handshake is refused until the revocation is lifted; a revoked
// token id refuses that token only, at the handshake and on refresh.
func TestControlRevoke(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "ann", "*")
	w := d.dial(tok)
	r := d.act(http.MethodPost, "/v1/revoke", map[string]any{"user": "ann", "for": "1h", "reason": "banned"})
	if r.Applied != 1 {
		t.Fatalf("answer %+v", r)
	}
	if code := w.expectClose(10 * time.Second); code != control.CloseRevoked {
		t.Fatalf("close code %d, want %d", code, control.CloseRevoked)
	}
	if st := d.dialStatus(bearer(tok), ""); st != http.StatusUnauthorized {
		t.Fatalf("handshake of a revoked user: %d, want 401", st)
	}
	var list []control.Revocation
	d.get("/v1/revocations", &list)
	if len(list) != 1 || list[0].Key != "user:ann" {
		t.Fatalf("revocations %v", list)
	}
	d.act(http.MethodDelete, "/v1/revoke", map[string]any{"user": "ann"})
	d.dial(tok).stillOpen()

	// By token id: the other token of the same user stays.
	bad, good := jtiToken(t, "cat", "t-1", "*"), jtiToken(t, "cat", "t-2", "*")
	wb, wg := d.dial(bad), d.dial(good)
	d.act(http.MethodPost, "/v1/revoke", map[string]any{"jti": "t-1", "for": "1h"})
	if code := wb.expectClose(10 * time.Second); code != control.CloseRevoked {
		t.Fatalf("close code %d", code)
	}
	wg.stillOpen()
	if st := d.dialStatus(bearer(bad), ""); st != http.StatusUnauthorized {
		t.Fatalf("handshake with a revoked token: %d", st)
	}
	wg.send(`{"action":"refresh","id":"r","token":"` + jtiToken(t, "cat", "t-1", "*") + `"}`)
	if m := wg.next(); m["type"] != "error" || m["code"] != "unauthorized" || !strings.Contains(fmt.Sprint(m["message"]), "revoked") {
		t.Fatalf("refresh with a revoked token: %v", m)
	}
}

// TestControlRevocationEnds: a revocation for a short while is forgotten
// once it ends, and the user gets in again.
func TestControlRevocationEnds(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "ann", "*")
	d.act(http.MethodPost, "/v1/revoke", map[string]any{"user": "ann", "for": "1s"})
	if st := d.dialStatus(bearer(tok), ""); st != http.StatusUnauthorized {
		t.Fatalf("handshake: %d", st)
	}
	waitFor(t, 10*time.Second, "the revocation to end", func() bool {
		var list []control.Revocation
		d.get("/v1/revocations", &list)
		return len(list) == 0
	})
	d.dial(tok).stillOpen()
}

// TestControlServerSubscribe: the backend puts a user into a channel its
// token does not name, and takes it out again.
func TestControlServerSubscribe(t *testing.T) {
	d := startDaemon(t)
	w := d.dial(token(t, "ann", "user:ann"))
	d.publish("project:s", "story.created", "1")
	r := d.act(http.MethodPost, "/v1/subscribe", map[string]any{"user": "ann", "channel": "project:s"})
	if r.Applied != 1 {
		t.Fatalf("answer %+v", r)
	}
	m := w.next()
	if m["type"] != "subscribed" || m["channel"] != "project:s" || m["offset"] != float64(1) {
		t.Fatalf("got %v, want subscribed at offset 1", m)
	}
	d.publish("project:s", "story.created", "2")
	w.expectEvent("project:s", "story.created")
	d.act(http.MethodPost, "/v1/unsubscribe", map[string]any{"user": "ann", "channel": "project:s", "reason": "left the project"})
	m = w.next()
	if m["type"] != "unsubscribed" || m["channel"] != "project:s" || m["code"] != "server" || m["message"] != "left the project" {
		t.Fatalf("got %v, want unsubscribed by the server", m)
	}
	d.publish("project:s", "story.created", "3")
	w.stillOpen()
}

// TestControlHistory: what the history route returns is what a subscriber
// received; since and limit page it; DELETE clears it.
func TestControlHistory(t *testing.T) {
	d := startDaemon(t)
	historyMatchesSubscriber(t, d, d, "project:h")
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	d.act(http.MethodDelete, "/v1/channels/project:h/history", nil)
	d.get("/v1/channels/project:h/history", &page)
	if len(page.Events) != 0 {
		t.Fatalf("after DELETE: %d events", len(page.Events))
	}
}

// historyMatchesSubscriber publishes through pub with a subscriber on sub,
// then reads the history through sub and checks it against what the
// subscriber got, whole and paged.
func historyMatchesSubscriber(t *testing.T, pub, sub *testDaemon, channel string) {
	t.Helper()
	w := sub.dial(token(t, "h", "*"))
	w.subscribe(channel)
	var got []map[string]any
	for i := 1; i <= 5; i++ {
		pub.publish(channel, "story.created", fmt.Sprint(i))
		got = append(got, w.expectEvent(channel, "story.created"))
	}
	type page struct {
		Offset   uint64           `json:"offset"`
		Epoch    string           `json:"epoch"`
		Complete bool             `json:"complete"`
		Events   []map[string]any `json:"events"`
	}
	var all page
	sub.get("/v1/channels/"+channel+"/history", &all)
	if len(all.Events) != 5 || all.Offset != 5 || all.Epoch != got[0]["epoch"] {
		t.Fatalf("history %+v, want the 5 events at offset 5", all)
	}
	for i, e := range all.Events {
		for _, k := range []string{"type", "channel", "offset", "epoch", "payload"} {
			if fmt.Sprint(e[k]) != fmt.Sprint(got[i][k]) {
				t.Fatalf("event %d: history %v, subscriber got %v", i, e, got[i])
			}
		}
	}
	var since page
	sub.get(fmt.Sprintf("/v1/channels/%s/history?since=2&epoch=%s&limit=2", channel, all.Epoch), &since)
	if !since.Complete || len(since.Events) != 2 || since.Events[0]["offset"] != float64(3) {
		t.Fatalf("since=2 limit=2: %+v", since)
	}
	var last page
	sub.get("/v1/channels/"+channel+"/history?limit=2", &last)
	if len(last.Events) != 2 || last.Events[1]["offset"] != float64(5) {
		t.Fatalf("limit=2: %+v", last)
	}
}

// TestControlConnections lists connections with their details.
func TestControlConnections(t *testing.T) {
	d := startDaemon(t)
	w := d.dial(token(t, "ann", "*"))
	w.subscribe("room:1")
	w.subscribe("room:2")
	d.dial(token(t, "bob", "*"))
	var all control.Connections
	d.get("/v1/connections?channel=room:2", &all)
	if len(all.Connections) != 1 || len(all.Missing) != 0 {
		t.Fatalf("connections on room:2: %+v", all)
	}
	c := all.Connections[0]
	if c["user"] != "ann" || fmt.Sprint(c["channels"]) != "[room:1 room:2]" ||
		!strings.HasPrefix(fmt.Sprint(c["remote_addr"]), "127.0.0.1:") || c["age_seconds"].(float64) < 0 {
		t.Fatalf("connection %v", c)
	}
	var conns []map[string]any
	d.get("/v1/connections?local=1", &conns)
	if len(conns) != 2 {
		t.Fatalf("all connections: %v", conns)
	}
}

// TestControlTap: the tap streams events of matching channels and control
// actions; it is not served on TCP.
func TestControlTap(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.API.Key = "k-0123456789abcdef" })
	lines := make(chan map[string]any, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- d.ctl().Tap(ctx, "project:*", func(b []byte) error {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				return err
			}
			lines <- m
			return nil
		})
	}()
	waitFor(t, 10*time.Second, "the tap", func() bool { return d.srv.ctl != nil && tapOpen(d) })
	d.publish("other:x", "story.created", "0")
	d.publish("project:t", "story.created", `{"n":1}`)
	d.act(http.MethodPost, "/v1/disconnect", map[string]any{"user": "nobody"})
	m := <-lines
	if m["kind"] != "event" || m["channel"] != "project:t" || fmt.Sprint(m["payload"]) != "map[n:1]" {
		t.Fatalf("first tap line %v", m)
	}
	m = <-lines
	if m["kind"] != "control" || fmt.Sprint(m["action"].(map[string]any)["op"]) != "disconnect" {
		t.Fatalf("second tap line %v", m)
	}
	cancel()
	<-done

	req, _ := http.NewRequest(http.MethodGet, "http://"+d.addr+"/v1/tap", nil)
	req.Header.Set("Authorization", "Bearer k-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("tap on TCP: %d, want 404", resp.StatusCode)
	}

	// The other routes are on TCP, behind the API key.
	w := d.dial(token(t, "ann", "*"))
	for _, key := range []string{"", "wrong", "k-0123456789abcdef"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+d.addr+"/v1/disconnect", strings.NewReader(`{"user":"ann"}`))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		want := http.StatusUnauthorized
		if key == "k-0123456789abcdef" {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Fatalf("disconnect on TCP with key %q: %d, want %d", key, resp.StatusCode, want)
		}
	}
	if code := w.expectClose(10 * time.Second); code != control.CloseDisconnected {
		t.Fatalf("close code %d", code)
	}

	// A shutdown ends the taps rather than waiting for them.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { done <- d.ctl().Tap(ctx2, "*", func([]byte) error { return nil }) }()
	waitFor(t, 10*time.Second, "the tap", func() bool { return tapOpen(d) })
	stopped := make(chan error, 1)
	go func() { stopped <- d.stop() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second): // the drain window is 10 s: a tap that held the API up would take longer
		t.Fatal("the tap outlived the shutdown's start")
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// tapOpen reports whether a tap is open, by publishing a probe event.
func tapOpen(d *testDaemon) bool {
	var n struct {
		Taps int `json:"taps"`
	}
	d.get("/v1/nodes", &n)
	return n.Taps > 0
}

// TestControlPeerAllowlist: the socket's peer allowlist guards the control
// routes as it guards publishing.
func TestControlPeerAllowlist(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.SocketPeerUIDs = []int{os.Getuid() + 12345} })
	w := d.dial(token(t, "ann", "*"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := d.ctl().Call(ctx, http.MethodPost, "/v1/disconnect", map[string]any{"user": "ann"}, nil)
	var ae *control.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Fatalf("disconnect from a peer not allowed: %v, want 403", err)
	}
	w.stillOpen()
}

// TestControlMetrics: the plane's counters are scraped.
func TestControlMetrics(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.Metrics.Enabled = true })
	w := d.dial(token(t, "ann", "*"))
	d.act(http.MethodPost, "/v1/disconnect", map[string]any{"user": "ann"})
	w.expectClose(10 * time.Second)
	d.act(http.MethodPost, "/v1/revoke", map[string]any{"user": "mallory", "for": "1h"})
	fams := scrape(t, "http://"+d.addr+"/metrics")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"fanoutd_control_actions_total", []string{"op", "disconnect"}, 1},
		{"fanoutd_control_actions_total", []string{"op", "revoke"}, 1},
		{"fanoutd_control_actions_total", []string{"op", "subscribe"}, 0},
		{"fanoutd_control_revocations", nil, 1},
		{"fanoutd_control_nodes", nil, 1},
		{"fanoutd_control_tap_lines_dropped_total", nil, 0},
		{"fanoutd_close_frames_sent_total", []string{"code", "4004"}, 1},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestControlStalledTapDropsNotDelays: a tap that stops reading under a
// burst of publishes loses lines; the publishes and the subscriber's
// deliveries all go through.
func TestControlStalledTapDropsNotDelays(t *testing.T) {
	d := startDaemon(t)
	w := d.dial(token(t, "ann", "*"))
	w.subscribe("project:burst")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- d.ctl().Tap(ctx, "project:*", func([]byte) error { <-ctx.Done(); return nil })
	}()
	waitFor(t, 10*time.Second, "the tap", func() bool { return tapOpen(d) })
	// 3,000 lines of over 1 KiB: far more than the tap's queue and the
	// socket buffers between the daemon and the stalled reader hold.
	const events = 3000
	pad := strings.Repeat("x", 1024)
	for i := range events {
		payload := json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad))
		if _, err := d.srv.Publish(ctx, Event{Channel: "project:burst", Type: "story.created", Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if m := w.expectEvent("project:burst", "story.created"); m["payload"].(map[string]any)["i"] != float64(i) {
			t.Fatalf("event %d: %v", i, m["payload"])
		}
	}
	if st := d.srv.ctl.Stats(); st.TapDropped == 0 {
		t.Fatalf("the stalled tap dropped nothing of %d lines: %+v", events, st)
	}
	cancel()
	<-done
}
