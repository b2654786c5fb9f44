package ipc

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

type fakeReloader struct{ err error }

func (f fakeReloader) Reload() (any, error) {
	return map[string][]string{"applied": {"log_level"}}, f.err
}

// refused is what the root package returns for a configuration it refuses.
type refused struct{}

func (refused) Error() string { return "configuration refused" }
func (refused) Invalid() bool { return true }
func (refused) Problems() []string {
	return []string{"listen: must be host:port", "log_level: must be one of …"}
}

func TestReloadRoute(t *testing.T) {
	cases := []struct {
		name     string
		reloader Reloader
		tcp      bool
		method   string
		status   int
		body     string
	}{
		{name: "applied", reloader: fakeReloader{}, method: "POST", status: 200, body: `{"applied":["log_level"]}`},
		{name: "refused", reloader: fakeReloader{err: refused{}}, method: "POST", status: 400,
			body: `{"error":"invalid configuration","errors":["listen: must be host:port","log_level: must be one of …"]}`},
		{name: "failed", reloader: fakeReloader{err: errors.New("boom")}, method: "POST", status: 500,
			body: `{"error":"reload failed: boom"}`},
		{name: "GET", reloader: fakeReloader{}, method: "GET", status: 405},
		{name: "no reloader", method: "POST", status: 404},
		{name: "never on TCP", reloader: fakeReloader{}, tcp: true, method: "POST", status: 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Options{Publisher: &fakePublisher{failAt: -1}, Reloader: c.reloader, APIKey: "0123456789abcdef"}
			h := NewHandler(o)
			if c.tcp {
				h = NewTCPHandler(o)
			}
			r := httptest.NewRequest(c.method, "/v1/reload", nil)
			r.Header.Set("Authorization", "Bearer 0123456789abcdef")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.body != "" && strings.TrimSpace(w.Body.String()) != c.body {
				t.Fatalf("body %s, want %s", w.Body, c.body)
			}
		})
	}
}
