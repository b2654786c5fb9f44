package fanoutd

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/golang-jwt/jwt/v5"
)

// tokenWithInfo mints a token whose info claim presence shows.
func tokenWithInfo(t *testing.T, sub string, info map[string]any) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "channels": []string{"*"}, "info": info, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// getJSON GETs path on the Unix socket API and decodes the answer.
func (d *testDaemon) getJSON(path string, out any) {
	d.t.Helper()
	hc := &http.Client{Transport: unixTransport(d.socket), Timeout: 10 * time.Second}
	resp, err := hc.Get("http://fanoutd" + path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, readAll(resp))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		d.t.Fatal(err)
	}
}

// connEventStream follows GET /v1/events; lines arrive on the channel.
func (d *testDaemon) connEventStream(query string) <-chan map[string]any {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://fanoutd/v1/events"+query, nil)
	resp, err := (&http.Client{Transport: unixTransport(d.socket)}).Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	out := make(chan map[string]any, 100)
	go func() {
		defer func() { _ = resp.Body.Close() }()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				out <- m
			}
		}
		close(out)
	}()
	return out
}

func nextLine(t *testing.T, c <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case m, ok := <-c:
		if !ok {
			t.Fatal("event stream ended")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no connection event within 10 s")
	}
	return nil
}

type presenceAnswer struct {
	Clients []struct {
		ConnectionID string         `json:"connection_id"`
		User         string         `json:"user"`
		Info         map[string]any `json:"info"`
	} `json:"clients"`
}

// TestPresenceAndConnectionEventsAgreeWithClients: what clients do —
// connect, subscribe, vanish without a close frame — shows in presence, in
// join/leave frames and in the app's event stream, in order.
func TestPresenceAndConnectionEventsAgreeWithClients(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		yes := true
		c.Channels = []config.ChannelClass{{Prefix: "room:", JoinLeave: &yes}}
	})
	events := d.connEventStream("")
	a := d.dial(tokenWithInfo(t, "ann", map[string]any{"name": "Ann"}))
	a.subscribe("room:1")
	b := d.dial(token(t, "bob", "*"))
	b.subscribe("room:1")
	join := a.next()
	if join["type"] != "join" || join["user"] != "bob" || join["channel"] != "room:1" {
		t.Fatalf("A got %v, want bob's join", join)
	}
	var p presenceAnswer
	d.getJSON("/v1/channels/room:1/presence", &p)
	if len(p.Clients) != 2 {
		t.Fatalf("presence %+v, want ann and bob", p)
	}
	for _, c := range p.Clients {
		if c.User == "ann" && c.Info["name"] != "Ann" {
			t.Errorf("ann's presence %+v lacks the token's info", c)
		}
	}
	var list struct {
		Channels []struct {
			Channel     string `json:"channel"`
			Subscribers int    `json:"subscribers"`
		} `json:"channels"`
	}
	d.getJSON("/v1/channels", &list)
	if len(list.Channels) != 1 || list.Channels[0].Channel != "room:1" || list.Channels[0].Subscribers != 2 {
		t.Fatalf("channels %+v, want room:1 with 2", list)
	}

	_ = b.c.CloseNow() // abrupt: no close frame
	if leave := a.next(); leave["type"] != "leave" || leave["user"] != "bob" {
		t.Fatalf("A got %v, want bob's leave", leave)
	}
	d.getJSON("/v1/channels/room:1/presence", &p)
	if len(p.Clients) != 1 || p.Clients[0].User != "ann" {
		t.Fatalf("presence after bob vanished: %+v", p)
	}

	want := []struct{ typ, user string }{
		{"connect", "ann"}, {"subscribe", "ann"}, {"connect", "bob"}, {"subscribe", "bob"}, {"disconnect", "bob"},
	}
	var seqs []float64
	var epoch string
	for i, w := range want {
		m := nextLine(t, events)
		if m["type"] != w.typ || m["user"] != w.user {
			t.Fatalf("event %d = %v, want %s of %s", i, m, w.typ, w.user)
		}
		seqs = append(seqs, m["seq"].(float64))
		epoch = m["epoch"].(string)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("sequence numbers %v are not consecutive", seqs)
		}
	}

	// The app restarts and resumes after the second event it handled.
	resumed := d.connEventStream("?after=" + jsonNumber(seqs[1]) + "&epoch=" + epoch)
	if m := nextLine(t, resumed); m["seq"] != seqs[2] || m["type"] != "connect" {
		t.Fatalf("resumed stream starts with %v, want seq %v", m, seqs[2])
	}
	// A position from another daemon's life is answered with a reset.
	other := d.connEventStream("?after=3&epoch=gone-")
	if m := nextLine(t, other); m["type"] != "reset" {
		t.Fatalf("stale position: first line %v, want a reset", m)
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
