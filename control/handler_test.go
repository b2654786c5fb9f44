package control

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandlerRefusals: the control routes answer a caller's mistake like
// the API's other routes do, with a JSON error, before any node is asked
// (the bus is down: reaching it would be a 503).
func TestHandlerRefusals(t *testing.T) {
	p := New(Options{Node: &fakeNode{refuse: "bad name"}, Bus: downBus{}, MaxBodyBytes: 1024})
	h := p.Handler(true)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		allow                    string
	}{
		{"wrong method", "GET", "/v1/disconnect", "", 405, "POST"},
		{"wrong method, two allowed", "PUT", "/v1/revoke", "", 405, "POST, DELETE"},
		{"wrong method on a read", "POST", "/v1/nodes", "", 405, "GET, HEAD"},
		{"wrong method on history", "POST", "/v1/channels/c/history", "", 405, "GET, HEAD, DELETE"},
		{"wrong method on the tap", "DELETE", "/v1/tap", "", 405, "GET, HEAD"},
		{"body too large", "POST", "/v1/disconnect", `{"user":"` + strings.Repeat("x", 2048) + `"}`, 413, ""},
		{"malformed", "POST", "/v1/disconnect", `{"user":`, 400, ""},
		{"subscribe to a bad channel", "POST", "/v1/subscribe", `{"user":"u","channel":"bad name"}`, 400, ""},
		{"disconnect a bad channel", "POST", "/v1/disconnect", `{"channel":"bad name"}`, 400, ""},
		{"clear a bad channel", "DELETE", "/v1/channels/bad%20name/history", "", 400, ""},
		{"unknown path", "GET", "/v1/nothing", "", 404, ""},
		// A listing filtered by a bad name is merely empty: it reaches the
		// bus, which is down.
		{"list a bad channel", "GET", "/v1/connections?channel=bad%20name", "", 503, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		var e struct{ Error string }
		err := json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != c.status || err != nil || e.Error == "" || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s: %d %q Allow %q, want %d with a JSON error, Allow %q", c.name, w.Code, w.Body, w.Header().Get("Allow"), c.status, c.allow)
		}
	}
	w := httptest.NewRecorder()
	New(Options{Node: &fakeNode{}}).Handler(false).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/tap", nil))
	if w.Code != 404 {
		t.Errorf("tap off the Unix socket: %d, want 404", w.Code)
	}
}
