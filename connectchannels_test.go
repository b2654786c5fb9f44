package fanoutd

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
)

// TestConnectChannelsSubscribeAtUpgrade: channels named in the WebSocket
// URL are subscribed before any command: welcome, then one reply per
// channel in order (a refused one unsubscribed with its code), then live
// events; subscribing by command still works beside them.
func TestConnectChannelsSubscribeAtUpgrade(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "sam", "project:*")
	w := d.dialWith(&websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}},
		"?channels=project:a,admin:1&channel="+url.QueryEscape("project:b,c"))
	if w.welcome["url_channels"] != float64(3) {
		t.Errorf("welcome %v, want url_channels 3", w.welcome)
	}
	for _, want := range []struct{ typ, channel, code string }{
		{"subscribed", "project:a", ""},
		{"unsubscribed", "admin:1", "forbidden"},
		{"subscribed", "project:b,c", ""},
	} {
		m := w.next()
		if m["type"] != want.typ || m["channel"] != want.channel || want.code != "" && m["code"] != want.code {
			t.Fatalf("reply %v, want %s %s %s", m, want.typ, want.channel, want.code)
		}
		if _, ok := m["id"]; ok {
			t.Errorf("reply %v carries an id; no command was sent", m)
		}
	}
	w.subscribe("project:c")
	d.publish("project:b,c", "story.status.changed", `{"n":1}`)
	d.publish("project:a", "story.status.changed", `{"n":2}`)
	d.publish("project:c", "story.status.changed", `{"n":3}`)
	w.expectEvent("project:b,c", "story.status.changed")
	w.expectEvent("project:a", "story.status.changed")
	w.expectEvent("project:c", "story.status.changed")
}

// TestConnectChannelsResume: last_event_id in the URL resumes from the
// positions it names, exactly as a subscribe with since would.
func TestConnectChannelsResume(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "sam", "project:*")
	w := d.dial(tok)
	if _, ok := w.welcome["url_channels"]; ok {
		t.Errorf("welcome %v: url_channels without channels in the URL", w.welcome)
	}
	_, epoch := w.subscribePosition("project:p1")
	publishMany(t, d, "project:p1", 1, 5)
	_ = w.c.CloseNow()

	w2 := d.dialWith(&websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}},
		"?channels=project:p1,project:p2&last_event_id="+url.QueryEscape("project:p1 2 "+epoch))
	r := w2.next()
	if r["type"] != "subscribed" || r["channel"] != "project:p1" || r["recovered"] != true || r["offset"] != float64(5) {
		t.Fatalf("reply %v, want project:p1 recovered at offset 5", r)
	}
	for want := 3; want <= 5; want++ {
		if m := w2.expectEvent("project:p1", "story.status.changed"); m["offset"] != float64(want) {
			t.Fatalf("replayed %v, want offset %d", m, want)
		}
	}
	if r := w2.next(); r["type"] != "subscribed" || r["channel"] != "project:p2" {
		t.Fatalf("reply %v, want project:p2 subscribed", r)
	}
}

// TestConnectChannelsRefused: a URL naming its channels badly is refused
// with 400 before the token is even checked, and counted.
func TestConnectChannelsRefused(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.Metrics.Enabled = true })
	var distinct []string // one more than max_subscriptions (128)
	for i := range 129 {
		distinct = append(distinct, "project:"+strconv.Itoa(i))
	}
	for name, query := range map[string]string{
		"malformed positions": "?channels=project:a&last_event_id=" + url.QueryEscape("project:a x e"),
		"bad escape":          "?channels=%zz",
		"too many channels":   "?channels=" + strings.Join(distinct, ","),
	} {
		t.Run(name, func(t *testing.T) {
			o := &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer.not-a-token"}}
			if got := d.dialStatus(o, query); got != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", got)
			}
		})
	}
	fams := scrape(t, "http://"+d.addr+"/metrics")
	if got := value(t, fams, "fanoutd_handshake_failures_total", "reason", "connect_channels"); got != 3 {
		t.Errorf("connect_channels refusals %v, want 3", got)
	}
}
