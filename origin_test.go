package fanoutd

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/wstest"
)

func TestOriginPolicy(t *testing.T) {
	p := newOriginPolicy([]string{"https://app.example.com", "http://localhost:5173"})
	cases := []struct {
		origin string
		want   bool
	}{
		{origin: "https://app.example.com", want: true},
		{origin: "https://App.Example.com:443", want: true},
		{origin: "http://localhost:5173", want: true},
		{origin: "", want: true}, // not a browser
		{origin: "null", want: false},
		{origin: "https://app.example.com.evil.com", want: false},
		{origin: "https://evilapp.example.com", want: false},
		{origin: "https://app.example.co", want: false},
		{origin: "http://app.example.com", want: false},
		{origin: "https://app.example.com:8443", want: false},
		{origin: "http://localhost:5174", want: false},
		{origin: "https://app.example.com/path", want: false},
		{origin: "https://user@app.example.com", want: false},
		{origin: "file://", want: false},
	}
	for _, tc := range cases {
		if got := p.allows(tc.origin); got != tc.want {
			t.Errorf("allows(%q) = %v, want %v", tc.origin, got, tc.want)
		}
	}
	if !newOriginPolicy(nil).allows("https://anything.example") {
		t.Error("an empty allowlist must not check origins")
	}
}

// TestOriginRefusedBeforeTokenWork: a foreign Origin gets 403 even with a
// forged token (401 would mean the token was looked at first).
func TestOriginRefusedBeforeTokenWork(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.Origins = []string{"https://app.example.com"} })
	good := token(t, "kim", "*")
	for _, tc := range []struct {
		name, origin, token string
		want                int
	}{
		{name: "look-alike host, forged token", origin: "https://app.example.com.evil.com", token: "forged.token.x", want: http.StatusForbidden},
		{name: "null origin, valid token", origin: "null", token: good, want: http.StatusForbidden},
		{name: "wrong scheme", origin: "http://app.example.com", token: good, want: http.StatusForbidden},
		{name: "wrong port", origin: "https://app.example.com:444", token: good, want: http.StatusForbidden},
		{name: "allowed origin, bad token", origin: "https://app.example.com", token: "forged.token.x", want: http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, head := wstest.Connect(t, d.addr, "/ws", "Origin: "+tc.origin+"\r\n", "Authorization: Bearer "+tc.token+"\r\n")
			if !strings.HasPrefix(head, "HTTP/1.1 "+strconv.Itoa(tc.want)+" ") {
				t.Fatalf("head %q, want %d", head, tc.want)
			}
			c.ExpectEOF()
		})
	}
	// The allowed origin and a non-browser client without Origin both work.
	d.dialWith(&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://app.example.com"}},
		Subprotocols: []string{"fanout.v1", "bearer." + good}}, "")
	d.dial(good)
}
