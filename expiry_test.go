package fanoutd

import (
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
)

func shortToken(t *testing.T, sub string, ttl time.Duration) string {
	t.Helper()
	tok, err := jwtauth.Mint([]byte(testSecret), sub, []string{"*"}, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// withQuickExpiryWarning warns 3 s ahead: with 5-second tokens (whose exp
// is rounded down to the second) the warning window spans at least two
// of the once-a-second sweeps, even on a busy machine.
func withQuickExpiryWarning(c *config.Config) { c.Auth.ExpiryWarning = 3 * time.Second }

// TestExpiredTokenClosesTheConnection: a live connection whose token runs
// out is warned, then closed with 4003.
func TestExpiredTokenClosesTheConnection(t *testing.T) {
	d := startDaemon(t, withQuickExpiryWarning)
	w := d.dial(shortToken(t, "erin", 5*time.Second))
	if m := w.next(); m["type"] != "expiring" {
		t.Fatalf("got %v, want the expiring warning", m)
	}
	_, err := w.tryNext(10 * time.Second)
	if got := websocket.CloseStatus(err); got != daemon.CloseTokenExpired {
		t.Fatalf("after expiry: %v (close status %d), want close %d", err, got, daemon.CloseTokenExpired)
	}
}

// TestRefreshKeepsTheConnectionOpen: answering the warning with a newer
// token for the same user keeps the connection, and its subscriptions, past
// the first token's expiry.
func TestRefreshKeepsTheConnectionOpen(t *testing.T) {
	d := startDaemon(t, withQuickExpiryWarning)
	minted := time.Now()
	w := d.dial(shortToken(t, "erin", 5*time.Second))
	w.subscribe("live:1")
	if m := w.next(); m["type"] != "expiring" {
		t.Fatalf("got %v, want the expiring warning", m)
	}
	w.send(`{"action":"refresh","id":"r","token":"` + shortToken(t, "erin", time.Hour) + `"}`)
	if m := w.next(); m["type"] != "refreshed" || m["id"] != "r" {
		t.Fatalf("got %v, want refreshed", m)
	}
	// Wait out the first token (plus a sweep), then prove the link is up.
	time.Sleep(time.Until(minted.Add(5*time.Second + 1500*time.Millisecond)))
	d.publish("live:1", "still.here", `{}`)
	if m := w.next(); m["type"] != "still.here" {
		t.Fatalf("after the first token's expiry got %v, want the event", m)
	}
}

// TestCookieCarrier: with auth.cookie and an origins allowlist, a browser's
// cookie authenticates; the same cookie without an Origin, or from another
// origin, is refused before the token is looked at.
func TestCookieCarrier(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Auth.Cookie = "fanoutd_token"
		c.Origins = []string{"https://app.example.com"}
	})
	cookie := "theme=dark; fanoutd_token=" + token(t, "carol", "*")
	opts := func(origin string) *websocket.DialOptions {
		h := http.Header{"Cookie": {cookie}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return &websocket.DialOptions{Subprotocols: []string{"fanout.v1"}, HTTPHeader: h}
	}
	w := d.dialWith(opts("https://app.example.com"), "")
	w.subscribe("c:1")
	if got := d.dialStatus(opts(""), ""); got != http.StatusForbidden {
		t.Errorf("cookie token without Origin: status %d, want 403", got)
	}
	if got := d.dialStatus(opts("https://evil.example.com"), ""); got != http.StatusForbidden {
		t.Errorf("cookie token from another origin: status %d, want 403", got)
	}
	bad := &websocket.DialOptions{Subprotocols: []string{"fanout.v1"},
		HTTPHeader: http.Header{"Cookie": {"fanoutd_token=not.a.jwt"}, "Origin": {"https://app.example.com"}}}
	if got := d.dialStatus(bad, ""); got != http.StatusUnauthorized {
		t.Errorf("bad cookie token: status %d, want 401", got)
	}
}

// TestAnonymousReadsPublicChannels: with auth.anonymous, a request without
// a token connects and may read only the public channels; a bad token is
// still refused rather than downgraded to anonymous.
func TestAnonymousReadsPublicChannels(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Auth.Anonymous = true
		c.Auth.PublicChannels = []string{"status:*"}
	})
	w := d.dialWith(&websocket.DialOptions{Subprotocols: []string{"fanout.v1"}}, "")
	w.subscribe("status:api")
	w.send(`{"action":"subscribe","channel":"project:1","id":2}`)
	if m := w.next(); m["type"] != "error" || m["code"] != "forbidden" {
		t.Fatalf("anonymous subscribe to a private channel: %v, want forbidden", m)
	}
	d.publish("status:api", "status.changed", `{"ok":true}`)
	w.expectEvent("status:api", "status.changed")

	bad := &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer.not-a-token"}}
	if got := d.dialStatus(bad, ""); got != http.StatusUnauthorized {
		t.Errorf("invalid token with anonymous on: status %d, want 401", got)
	}
	// A user with a token reads public channels too.
	u := d.dial(token(t, "una", "project:*"))
	u.subscribe("status:api")
	u.subscribe("project:1")
}
