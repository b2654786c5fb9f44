package fanoutd

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/netpoll"
)

// These tests drive the SSE route (package sse) as the daemon wires it,
// through HTTP, tokens and the public API: admission by the upgrader's
// checks, the limits a user's WebSockets and streams share, shutdown, and
// the stream counter in Stats. What needs the package's internals is
// tested in sse/.

// sseEvent is one event of a stream as a client parses it.
type sseEvent struct {
	id, event string
	data      map[string]any
	comment   bool
}

// sseClient reads a stream on a goroutine of its own so that next can
// time out.
type sseClient struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
}

// sseGet opens GET /sse?query with the given headers; the caller checks
// the status.
func (d *testDaemon) sseGet(query string, hdr http.Header) *http.Response {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.addr+d.cfg.SSE.Path+"?"+query, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	return resp
}

// sse opens a stream with tok in the Authorization header (and more
// headers as pairs), expects 200, and reads the welcome.
func (d *testDaemon) sse(t *testing.T, tok, query string, headers ...string) *sseClient {
	t.Helper()
	hdr := http.Header{"Authorization": {"Bearer " + tok}}
	for i := 0; i+1 < len(headers); i += 2 {
		hdr.Set(headers[i], headers[i+1])
	}
	resp := d.sseGet(query, hdr)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /sse?%s: %d %s", query, resp.StatusCode, b)
	}
	c := &sseClient{t: t, resp: resp, events: make(chan sseEvent, 64)}
	go c.read()
	if e := c.next(); e.event != "welcome" {
		t.Fatalf("first event %+v, want welcome", e)
	}
	return c
}

func (c *sseClient) read() {
	defer close(c.events)
	sc := bufio.NewScanner(c.resp.Body)
	var e sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 || e.comment {
				if len(data) > 0 {
					_ = json.Unmarshal([]byte(strings.Join(data, "\n")), &e.data)
				}
				c.events <- e
			}
			e, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
			e.comment = true
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:])
		}
	}
}

// next returns the next event that is not a heartbeat comment.
func (c *sseClient) next() sseEvent {
	c.t.Helper()
	for {
		select {
		case e, ok := <-c.events:
			if !ok {
				c.t.Fatal("stream ended")
			}
			if e.comment && e.event == "" {
				continue
			}
			return e
		case <-time.After(10 * time.Second):
			c.t.Fatal("no event within 10s")
		}
	}
}

// ended waits for the stream's end.
func (c *sseClient) ended() {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-c.events:
			if !ok {
				return
			}
		case <-deadline:
			c.t.Fatal("stream did not end")
		}
	}
}

func TestSSEStreamsTheWebSocketEventsWithPositions(t *testing.T) {
	d := startDaemon(t)
	c := d.sse(t, token(t, "ann", "project:*"), "channels=project:a,project:b,project:a")
	a, b := c.next(), c.next()
	if a.event != "subscribed" || a.data["channel"] != "project:a" || b.data["channel"] != "project:b" {
		t.Fatalf("subscribed events %+v %+v", a, b)
	}
	epochA, epochB := a.data["epoch"].(string), b.data["epoch"].(string)
	if want := "project:a 0 " + epochA + " project:b 0 " + epochB; b.id != want {
		t.Fatalf("id %q, want %q", b.id, want)
	}
	w := d.dial(token(t, "bob", "*"))
	w.subscribe("project:b")
	d.publish("project:b", "story.status.changed", "{\n\"storyId\": \"6-5\",\r\n\"status\": \"done\"}")
	e := c.next()
	if e.event != "story.status.changed" || e.id != "project:a 0 "+epochA+" project:b 1 "+epochB {
		t.Fatalf("event %+v", e)
	}
	viaWS := w.expectEvent("project:b", "story.status.changed")
	if got, want := mustJSON(t, e.data), mustJSON(t, viaWS); got != want {
		t.Errorf("SSE data %s, WebSocket event %s", got, want)
	}
	if n := d.srv.Stats().SSEStreams; n != 1 {
		t.Errorf("sse_streams = %d, want 1", n)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSSELastEventIDResumesEveryChannel(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "ann", "*")
	c := d.sse(t, tok, "channels=x,y")
	c.next()
	c.next()
	d.publish("x", "t", `1`)
	d.publish("y", "t", `1`)
	c.next()
	last := c.next().id
	d.publish("x", "t", `2`)
	d.publish("y", "t", `2`)
	d.publish("x", "t", `3`)

	for name, header := range map[string]string{"Last-Event-ID": "Last-Event-ID", "query": ""} {
		t.Run(name, func(t *testing.T) {
			var r *sseClient
			if header != "" {
				r = d.sse(t, tok, "channels=x,y", header, last)
			} else {
				r = d.sse(t, tok, "channels=x,y&last_event_id="+urlQuery(last))
			}
			var got []string
			for range 5 {
				e := r.next()
				got = append(got, e.event+" "+e.data["channel"].(string)+" recovered="+mustJSON(t, e.data["recovered"])+" payload="+mustJSON(t, e.data["payload"]))
			}
			want := []string{"subscribed x recovered=true payload=null", "t x recovered=null payload=2", "t x recovered=null payload=3",
				"subscribed y recovered=true payload=null", "t y recovered=null payload=2"}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("resume:\n got %q\nwant %q", got, want)
			}
		})
	}
	t.Run("another epoch", func(t *testing.T) {
		r := d.sse(t, tok, "channels=x", "Last-Event-ID", "x 1 not-this-epoch")
		if e := r.next(); e.event != "subscribed" || e.data["recovered"] != false {
			t.Fatalf("got %+v, want subscribed with recovered false", e)
		}
	})
}

func urlQuery(s string) string { return strings.ReplaceAll(s, " ", "%20") }

func TestSSEAdmission(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Origins = []string{"https://app.example"}
		c.Auth.Cookie = "fanout"
	})
	tok := token(t, "ann", "project:*")
	tests := []struct {
		name   string
		query  string
		header http.Header
		status int
	}{
		{"no token", "channels=project:a", http.Header{}, http.StatusUnauthorized},
		{"bad token", "channels=project:a", http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"token in the query", "channels=project:a&token=" + tok, http.Header{}, http.StatusOK},
		{"cookie with an allowed Origin", "channels=project:a",
			http.Header{"Cookie": {"fanout=" + tok}, "Origin": {"https://app.example"}}, http.StatusOK},
		{"cookie without Origin", "channels=project:a", http.Header{"Cookie": {"fanout=" + tok}}, http.StatusForbidden},
		{"Origin not allowed", "channels=project:a",
			http.Header{"Authorization": {"Bearer " + tok}, "Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"malformed Last-Event-ID", "channels=project:a",
			http.Header{"Authorization": {"Bearer " + tok}, "Last-Event-Id": {"project:a x"}}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := d.sseGet(tc.query, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if o := tc.header.Get("Origin"); tc.status == http.StatusOK && o != "" &&
				resp.Header.Get("Access-Control-Allow-Origin") != o {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", resp.Header.Get("Access-Control-Allow-Origin"), o)
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, "http://"+d.addr+"/sse", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Headers", "authorization,last-event-id")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Last-Event-ID") {
			t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("forbidden channel", func(t *testing.T) {
		c := d.sse(t, tok, "channels=project:ok,admin:1")
		c.next()
		e := c.next()
		if e.event != "unsubscribed" || e.data["channel"] != "admin:1" || e.data["code"] != "forbidden" {
			t.Fatalf("got %+v, want unsubscribed admin:1 forbidden", e)
		}
	})
}

func TestSSELimits(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Limits.MaxConnectionsPerUser = 1
		c.SSE.MaxStreams = 2
	})
	ann := d.sse(t, token(t, "ann", "*"), "channels=a")
	if got := d.sseGet("channels=a", http.Header{"Authorization": {"Bearer " + token(t, "ann", "*")}}).StatusCode; got != http.StatusTooManyRequests {
		t.Fatalf("second stream of one user: %d, want 429", got)
	}
	if got := d.dialStatus(subprotocol(token(t, "ann", "*")), ""); got != http.StatusTooManyRequests {
		t.Fatalf("a WebSocket of the same user: %d, want 429 (one limit for both)", got)
	}
	d.sse(t, token(t, "bob", "*"), "channels=a")
	resp := d.sseGet("channels=a", http.Header{"Authorization": {"Bearer " + token(t, "cat", "*")}})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %d, want 503 with Retry-After", resp.StatusCode)
	}
	_ = ann.resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for d.srv.Stats().SSEStreams != 1 || d.srv.Stats().Connections != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the closed stream was never released: %+v", d.srv.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.sse(t, token(t, "ann", "*"), "channels=a")
}

func TestSSEHeartbeatExpiryAndShutdown(t *testing.T) {
	d := startDaemon(t, withQuickExpiryWarning, func(c *config.Config) { c.SSE.Heartbeat = time.Second })
	c := d.sse(t, shortToken(t, "erin", 3*time.Second), "channels=a")
	c.next()
	sawHeartbeat := false
	for {
		e := <-c.events
		switch {
		case e.comment:
			sawHeartbeat = true
			continue
		case e.event == "expiring":
			continue
		}
		if e.event != "close" || e.data["code"] != float64(4003) {
			t.Fatalf("got %+v, want the close event with 4003", e)
		}
		break
	}
	c.ended()
	if !sawHeartbeat {
		t.Error("no heartbeat comment in 3 s with sse.heartbeat 1s")
	}

	s := d.sse(t, token(t, "ann", "*"), "channels=a")
	s.next()
	done := make(chan error, 1)
	go func() { done <- d.stop() }()
	if e := s.next(); e.event != "close" || e.data["code"] != float64(netpoll.CloseGoingAway) {
		t.Fatalf("at shutdown: %+v, want the close event with 1001", e)
	}
	s.ended()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSSEDisabled(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.SSE.Enabled = false })
	if got := d.sseGet("channels=a", http.Header{"Authorization": {"Bearer " + token(t, "ann", "*")}}).StatusCode; got != http.StatusNotFound {
		t.Fatalf("GET /sse with sse.enabled false: %d, want 404", got)
	}
}
