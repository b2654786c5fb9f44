package fanoutd

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
)

// TestAnonymousRefusesUnrecognisedCredentials: with auth.anonymous on, a
// request that carries anything that looks like a credential (whatever the
// case of the scheme, subprotocol prefix or parameter name) must present a
// valid token or be refused 401; it is never downgraded to anonymous. A
// valid token under another spelling of "Bearer" authenticates as its user.
func TestAnonymousRefusesUnrecognisedCredentials(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Auth.Anonymous = true
		c.Auth.PublicChannels = []string{"status:*"}
	})
	fv1 := []string{"fanout.v1"}
	refused := []struct {
		name  string
		o     websocket.DialOptions
		query string
	}{
		{"lower-case bearer, bad token", websocket.DialOptions{Subprotocols: fv1, HTTPHeader: http.Header{"Authorization": {"bearer not-a-token"}}}, ""},
		{"Bearer, bad token", websocket.DialOptions{Subprotocols: fv1, HTTPHeader: http.Header{"Authorization": {"Bearer not-a-token"}}}, ""},
		{"Bearer, no token", websocket.DialOptions{Subprotocols: fv1, HTTPHeader: http.Header{"Authorization": {"Bearer"}}}, ""},
		{"Basic", websocket.DialOptions{Subprotocols: fv1, HTTPHeader: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}}, ""},
		{"subprotocol Bearer.", websocket.DialOptions{Subprotocols: []string{"fanout.v1", "Bearer.not-a-token"}}, ""},
		{"subprotocol BEARER.", websocket.DialOptions{Subprotocols: []string{"fanout.v1", "BEARER.not-a-token"}}, ""},
		{"subprotocol bearer without a dot", websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer"}}, ""},
		{"query Token", websocket.DialOptions{Subprotocols: fv1}, "?Token=bad"},
		{"query TOKEN", websocket.DialOptions{Subprotocols: fv1}, "?TOKEN=bad"},
		{"query token empty", websocket.DialOptions{Subprotocols: fv1}, "?token="},
		{"query access_token", websocket.DialOptions{Subprotocols: fv1}, "?access_token=bad"},
		{"query two tokens", websocket.DialOptions{Subprotocols: fv1}, "?token=" + token(t, "ann", "status:*") + "&token=bad"},
	}
	for _, tc := range refused {
		if got := upgradeStatus(t, d, &tc.o, tc.query); got != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tc.name, got)
		}
	}

	// A valid token, whatever the case of the scheme, is its user's: a
	// private channel it allows is readable (anonymous could not).
	tok := token(t, "una", "project:*")
	for _, auth := range []string{"BEARER " + tok, "bearer " + tok, "Bearer  " + tok} {
		w := d.dialWith(&websocket.DialOptions{Subprotocols: fv1, HTTPHeader: http.Header{"Authorization": {auth}}}, "")
		w.subscribe("project:1")
	}
	w := d.dialWith(&websocket.DialOptions{Subprotocols: []string{"fanout.v1", "Bearer." + tok}}, "")
	w.subscribe("project:1")
	w = d.dialWith(&websocket.DialOptions{Subprotocols: fv1}, "?Token="+tok)
	w.subscribe("project:1")
	// Nothing credential-like: anonymous, as before.
	w = d.dialWith(&websocket.DialOptions{Subprotocols: fv1}, "?tokens=1&x=token")
	w.subscribe("status:api")
}

// upgradeStatus is the HTTP status of an upgrade: 101 when it succeeded.
func upgradeStatus(t *testing.T, d *testDaemon, o *websocket.DialOptions, query string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, d.url+query, o)
	if err == nil {
		_ = c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("no HTTP response: %v", err)
	}
	return resp.StatusCode
}
