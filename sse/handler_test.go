package sse

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/netpoll"
)

// fakeAdmitter is the seam's other side: it admits or refuses as told and
// counts what the Handler does with it.
type fakeAdmitter struct {
	refuse   error
	listed   string // the one Origin on the "allowlist"
	open     bool   // no allowlist
	admitted atomic.Int32
	released chan struct{} // closed by the first release; a second one panics
}

func newFakeAdmitter() *fakeAdmitter { return &fakeAdmitter{released: make(chan struct{})} }

func (f *fakeAdmitter) AdmitStream(r *netpoll.Request) (daemon.Identity, func(), error) {
	if f.refuse != nil {
		return daemon.Identity{}, nil, f.refuse
	}
	f.admitted.Add(1)
	return daemon.Identity{Subject: "ann", Channels: []string{"*"}}, func() { close(f.released) }, nil
}

func (f *fakeAdmitter) CrossOrigin(origin string) (listed, open bool) {
	return origin == f.listed, f.open
}

var _ Admitter = (*fakeAdmitter)(nil)

// serve runs a Handler over a real loopback HTTP server.
func serve(t *testing.T, a Admitter, maxStreams int) (*Handler, *daemon.Node, string) {
	t.Helper()
	node := daemon.New(daemon.Options{Frame: netpoll.TextFrame})
	h := New(Options{Node: node, Admitter: a, MaxStreams: maxStreams})
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Shutdown(netpoll.CloseGoingAway, "")
		ts.Close()
	})
	return h, node, ts.URL
}

func get(t *testing.T, url string, hdr http.Header) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hdr != nil {
		req.Header = hdr
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	return resp
}

// events reads a stream's events ("event: type" lines, and whole "id: "
// lines) on a goroutine, closing the channel at the stream's end.
func events(body io.Reader) <-chan string {
	out := make(chan string, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "event: ") || strings.HasPrefix(l, "id: ") || strings.HasPrefix(l, "data: {\"type\":\"close\"") {
				out <- l
			}
		}
	}()
	return out
}

func next(t *testing.T, ev <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-ev:
		if !ok {
			t.Fatal("stream ended")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line within 10s")
	}
	return ""
}

// TestSSEHandlerAnswersARefusalAsTheAdmitterSaid: the Admitter's
// *netpoll.HTTPError is the answer, status, headers and reason; any other
// error is a 500; either way the stream's slot is given back.
func TestSSEHandlerAnswersARefusalAsTheAdmitterSaid(t *testing.T) {
	a := newFakeAdmitter()
	h, _, url := serve(t, a, 1)
	a.refuse = &netpoll.HTTPError{Status: http.StatusTooManyRequests, Reason: "too many connections for this user",
		Header: http.Header{"Retry-After": {"7"}}}
	for range 2 { // twice: a refused request must not keep the only slot
		resp := get(t, url+"/sse?channels=a", nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" ||
			string(b) != "too many connections for this user\n" {
			t.Fatalf("refused: %d %v %q", resp.StatusCode, resp.Header, b)
		}
	}
	a.refuse = errors.New("not an HTTPError")
	if resp := get(t, url+"/sse?channels=a", nil); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("another error: %d, want 500", resp.StatusCode)
	}
	if n := h.Streams(); n != 0 {
		t.Fatalf("Streams() = %d after refusals, want 0", n)
	}
}

// TestSSEHandlerStreamsUntilShutdownAndReleasesOnce: an admitted stream is a
// session of the node (welcome, subscribed, events with positions), ends
// with the close event at Shutdown, and gives its admission back once;
// after Shutdown requests are refused 503 before any admission.
func TestSSEHandlerStreamsUntilShutdownAndReleasesOnce(t *testing.T) {
	a := newFakeAdmitter()
	h, node, url := serve(t, a, 10)
	ev := events(get(t, url+"/sse?channels=c", nil).Body)
	if l := next(t, ev); l != "event: welcome" {
		t.Fatalf("first line %q, want the welcome", l)
	}
	if l := next(t, ev); !strings.HasPrefix(l, "id: c 0 ") {
		t.Fatalf("line %q, want the id of c at 0", l)
	}
	if l := next(t, ev); l != "event: subscribed" {
		t.Fatalf("line %q, want subscribed", l)
	}
	if err := node.Publish(context.Background(), "c", "t", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if l := next(t, ev); !strings.HasPrefix(l, "id: c 1 ") {
		t.Fatalf("line %q, want the id of c at 1", l)
	}
	if l := next(t, ev); l != "event: t" {
		t.Fatalf("line %q, want the event", l)
	}
	if n := h.Streams(); n != 1 {
		t.Fatalf("Streams() = %d, want 1", n)
	}
	h.Shutdown(netpoll.CloseGoingAway, "bye")
	if l := next(t, ev); l != "event: close" {
		t.Fatalf("line %q, want the close event", l)
	}
	if l := next(t, ev); l != `data: {"type":"close","code":1001,"reason":"bye"}` {
		t.Fatalf("close data %q", l)
	}
	select {
	case <-a.released:
	case <-time.After(10 * time.Second):
		t.Fatal("the admission was never released")
	}
	resp := get(t, url+"/sse?channels=c", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || a.admitted.Load() != 1 {
		t.Fatalf("after Shutdown: %d %v, %d admissions; want 503 with Retry-After and 1 admission",
			resp.StatusCode, resp.Header, a.admitted.Load())
	}
}

// TestSSEHandlerCORSFollowsTheAdmitter: credentials only for a listed Origin,
// "*" without them when there is no allowlist, nothing otherwise.
func TestSSEHandlerCORSFollowsTheAdmitter(t *testing.T) {
	tests := []struct {
		name, origin string
		open         bool
		wantOrigin   string
		wantCreds    bool
	}{
		{"listed", "https://app.example", false, "https://app.example", true},
		{"no allowlist", "https://evil.example", true, "*", false},
		{"not listed", "https://evil.example", false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newFakeAdmitter()
			a.listed, a.open = "https://app.example", tc.open
			_, _, url := serve(t, a, 1)
			req, _ := http.NewRequest(http.MethodOptions, url+"/sse", nil)
			req.Header.Set("Origin", tc.origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			got, creds := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials") == "true"
			if resp.StatusCode != http.StatusNoContent || got != tc.wantOrigin || creds != tc.wantCreds {
				t.Fatalf("preflight: %d, Allow-Origin %q, credentials %v; want 204, %q, %v",
					resp.StatusCode, got, creds, tc.wantOrigin, tc.wantCreds)
			}
			if a.admitted.Load() != 0 {
				t.Fatal("a preflight was admitted")
			}
		})
	}
}
