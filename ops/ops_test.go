package ops

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/netpoll"
)

// fakeSource is the daemon's side of the seam, with numbers a test sets.
type fakeSource struct {
	mu       sync.Mutex
	closes   map[int]uint64
	refusals map[string]uint64
	draining bool
	broker   [2]bool
	why      string
}

func (f *fakeSource) TransportStats() netpoll.Stats { return netpoll.Stats{Conns: 2, Upgraded: 5} }
func (f *fakeSource) CloseCodesSent() map[int]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[int]uint64{}
	for k, v := range f.closes {
		m[k] = v
	}
	return m
}
func (f *fakeSource) WriteLatency() netpoll.Latency { return netpoll.Latency{} }
func (f *fakeSource) Refusals(netpoll.Stats) map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]uint64{"origin": 0}
	for k, v := range f.refusals {
		m[k] = v
	}
	return m
}
func (f *fakeSource) Reloads() (uint64, uint64) { return 3, 1 }
func (f *fakeSource) Serving() bool             { return true }
func (f *fakeSource) Draining() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.draining
}
func (f *fakeSource) Broker() (bool, bool, string) { return f.broker[0], f.broker[1], f.why }

// newOps is an Ops over a real node, its clock stepping a second a call.
func newOps(t *testing.T, src *fakeSource) (*Ops, *daemon.Node) {
	t.Helper()
	node := daemon.New(daemon.Options{Frame: netpoll.TextFrame})
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	o := New(Options{Node: node, Source: src, Version: "9.9.9", Started: now, HistoryWindow: 5 * time.Second,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(time.Second)
			return now
		},
		Settings: func() Settings {
			return Settings{Listen: "127.0.0.1:1", Bound: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1},
				AllowedHosts: []string{"ops.example.com"}, WSPath: "/ws", Config: []Row{{"api.key", "set"}}}
		},
		MintStatusToken: func() string { return "tok.en" }})
	return o, node
}

func getBody(t *testing.T, h http.Handler, host, path string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// TestRingKeepsTheWindowInOrder: the ring holds the last N samples, oldest
// first, before and after it wraps.
func TestRingKeepsTheWindowInOrder(t *testing.T) {
	r := newRing(3)
	for i := range 5 {
		r.add(Sample{At: int64(i)})
		got := r.samples()
		want := max(0, i-2)
		if len(got) != min(i+1, 3) || got[0].At != int64(want) || got[len(got)-1].At != int64(i) {
			t.Fatalf("after %d adds: %+v", i+1, got)
		}
	}
}

// TestConsoleWindowAndTables: the window the page draws from is filled by
// PublishStatus's ticks and bounded; the tables list the node's
// connections and channels; every route checks the Host.
func TestConsoleWindowAndTables(t *testing.T) {
	src := &fakeSource{closes: map[int]uint64{4001: 2, 0: 1}, refusals: map[string]uint64{"token": 4}}
	o, node := newOps(t, src)
	ctx := context.Background()
	for range 8 {
		o.tick(ctx)
	}
	c := o.Console()
	code, body := getBody(t, c, "127.0.0.1:1", "/status/history.json")
	var h struct {
		EveryMs, WindowMs int64
		Samples           []Sample
	}
	if err := json.Unmarshal([]byte(body), &h); code != 200 || err != nil {
		t.Fatalf("history: %d %v %s", code, err, body)
	}
	if len(h.Samples) != 5 || h.Samples[0].At >= h.Samples[4].At || h.Samples[4].Closes != 3 || h.Samples[4].Refused != 4 {
		t.Fatalf("window: %+v", h.Samples)
	}
	if h.Samples[0].ProbeMs <= 0 && h.Samples[4].ProbeMs <= 0 {
		t.Errorf("no probe latency in the window: %+v", h.Samples)
	}

	sess := node.Connect(nopTransport{}, daemon.Identity{Subject: "ann", Channels: []string{"*"}})
	defer sess.Closed(1000)
	sess.Message(false, []byte(`{"action":"subscribe","channel":"news"}`))
	code, body = getBody(t, c, "ops.example.com", "/status/tables.json")
	if code != 200 || !strings.Contains(body, `"user":"ann"`) || !strings.Contains(body, `"channel":"news"`) ||
		!strings.Contains(body, `"connections_total":1`) {
		t.Fatalf("tables: %d %s", code, body)
	}

	code, body = getBody(t, c, "localhost:1", "/")
	for _, want := range []string{"fanoutd 9.9.9", `id="connections">1<`, "4001", "api.key", `"tok.en"`, "serving", "broker: memory"} {
		if !strings.Contains(body, want) {
			t.Errorf("the console lacks %q", want)
		}
	}
	if code != 200 {
		t.Fatalf("console: %d", code)
	}
	for _, path := range []string{"/", "/status/history.json", "/status/tables.json"} {
		if code, body := getBody(t, c, "evil.example:1", path); code != http.StatusMisdirectedRequest || strings.Contains(body, "tok.en") {
			t.Errorf("%s from a foreign Host: %d", path, code)
		}
	}
}

// TestReadyzFollowsTheSource: draining and a broker that is down (with
// the broker's own reason) turn /readyz 503.
func TestReadyzFollowsTheSource(t *testing.T) {
	src := &fakeSource{broker: [2]bool{true, false}, why: "JetStream not enabled"}
	o, _ := newOps(t, src)
	w := httptest.NewRecorder()
	o.Readyz(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != 503 || !strings.Contains(w.Body.String(), "JetStream not enabled") {
		t.Fatalf("broker down: %d %s", w.Code, w.Body.String())
	}
	src.broker[1] = true
	src.mu.Lock()
	src.draining = true
	src.mu.Unlock()
	w = httptest.NewRecorder()
	o.Readyz(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"listeners":"draining"`) {
		t.Fatalf("draining: %d %s", w.Code, w.Body.String())
	}
}

type nopTransport struct{}

func (nopTransport) Send([]byte) bool                                          { return true }
func (nopTransport) Queue([]byte) (bool, bool)                                 { return true, false }
func (nopTransport) QueueEventAt([]byte, uint64, int, int64) (bool, bool, int) { return true, false, 0 }
func (nopTransport) Flush()                                                    {}
func (nopTransport) Close(int, string)                                         {}
