package loadgen

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// fakeFanoutd is the part of fanoutd that the generator's connect-time
// subscriptions use, with what the real daemon does not show: the
// commands clients sent and every upgrade's query (TestRunSubscribeInURL
// runs the mode against the real daemon). It serves the WebSocket route with
// ?channels=a,b (parameters add up, duplicates dropped, as on the SSE
// route) answered in one write with the welcome and a subscribed frame per
// channel, or an unsubscribed frame with code forbidden for a channel in
// refuse; and the publish API on a Unix socket (POST /v1/publish with one
// event or an array, GET /v1/stats). It sends no pings and answers no
// commands: it counts them.
type fakeFanoutd struct {
	t        *testing.T
	srv      *httptest.Server
	socket   string
	refuse   map[string]bool
	commands atomic.Int64 // text messages from clients: none in URL mode
	// delivered counts event frames written, for /v1/stats.
	delivered atomic.Int64

	mu      sync.Mutex
	subs    map[string][]*fakeConn // channel -> subscribers
	queries []string               // the raw query of every upgrade
}

func startFakeFanoutd(t *testing.T, refuse ...string) *fakeFanoutd {
	f := &fakeFanoutd{t: t, refuse: map[string]bool{}, subs: map[string][]*fakeConn{}}
	for _, ch := range refuse {
		f.refuse[ch] = true
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serveWS))
	t.Cleanup(f.srv.Close)

	f.socket = filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/publish", f.servePublish)
	mux.HandleFunc("GET /v1/stats", f.serveStats)
	api := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = api.Serve(ln) }()
	t.Cleanup(func() { _ = api.Close() })
	return f
}

// config is a run against the fake with connect-time subscriptions.
func (f *fakeFanoutd) config(conns, procs, channels int, rate float64) Config {
	c := DefaultConfig()
	c.URL = "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws"
	c.Socket, c.Secret, c.SubscribeInURL = f.socket, testSecret, true
	c.Conns, c.Procs, c.Channels, c.Rate = conns, procs, channels, rate
	c.Duration, c.Drain, c.ConnectTimeout = 500*time.Millisecond, 3*time.Second, 20*time.Second
	return c
}

// channelsOf reads the channel list as the daemon's SSE route does.
func channelsOf(r *http.Request) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range r.URL.Query()["channels"] {
		for _, ch := range strings.Split(v, ",") {
			if ch != "" && !seen[ch] {
				seen[ch] = true
				out = append(out, ch)
			}
		}
	}
	return out
}

func (f *fakeFanoutd) serveWS(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		http.Error(w, "missing token", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	f.mu.Unlock()
	channels := channelsOf(r)
	nc, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer nc.Close()
	c := &fakeConn{nc: nc}
	// The welcome and every answer, in one write; subscribed before it, so
	// no event can come between.
	var out bytes.Buffer
	frame := func(msg string) { _ = ws.WriteFrame(&out, ws.NewTextFrame([]byte(msg))) }
	frame(`{"type":"welcome","connection_id":"fake-1","user":"fanout-bench","protocol":"fanout.v1"}`)
	for _, ch := range channels {
		if f.refuse[ch] {
			frame(`{"type":"unsubscribed","channel":"` + ch + `","code":"forbidden","message":"channel not allowed by token"}`)
			continue
		}
		f.mu.Lock()
		f.subs[ch] = append(f.subs[ch], c)
		f.mu.Unlock()
		frame(`{"type":"subscribed","channel":"` + ch + `","offset":0,"epoch":"fake"}`)
	}
	c.mu.Lock()
	_, err = nc.Write(out.Bytes())
	c.mu.Unlock()
	if err != nil {
		return
	}
	for {
		_, op, err := wsutil.ReadClientData(nc)
		if err != nil {
			return
		}
		if op == ws.OpText {
			f.commands.Add(1)
		}
	}
}

func (f *fakeFanoutd) servePublish(w http.ResponseWriter, r *http.Request) {
	var events []struct {
		Channel string          `json:"channel"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(r.Body)
	b := bytes.TrimSpace(body.Bytes())
	if len(b) > 0 && b[0] != '[' {
		b = append(append([]byte{'['}, b...), ']')
	}
	if err := json.Unmarshal(b, &events); err != nil || len(events) == 0 {
		http.Error(w, `{"error":"malformed JSON"}`, http.StatusBadRequest)
		return
	}
	for _, e := range events {
		msg := []byte(`{"type":"` + e.Type + `","channel":"` + e.Channel + `","payload":` + string(e.Payload) + `}`)
		f.mu.Lock()
		subs := append([]*fakeConn(nil), f.subs[e.Channel]...)
		f.mu.Unlock()
		for _, c := range subs {
			c.write(msg)
			f.delivered.Add(1)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{"published": len(events)})
}

func (f *fakeFanoutd) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"pid": os.Getpid(), "delivered": f.delivered.Load()})
}
