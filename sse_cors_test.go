package fanoutd

import (
	"net/http"
	"testing"

	"github.com/fanoutd/fanoutd/config"
)

// TestSSECORSCredentialsOnlyForAllowlistedOrigins: with no origins
// allowlist, /sse must not reflect an arbitrary Origin with
// Access-Control-Allow-Credentials: true (any site could then read a
// visitor's stream with the visitor's credentials); it answers "*" without
// credentials. With an allowlist, only a listed Origin gets credentialed
// CORS, and others none.
func TestSSECORSCredentialsOnlyForAllowlistedOrigins(t *testing.T) {
	tok := token(t, "ann", "project:*")
	check := func(t *testing.T, d *testDaemon, method, origin, wantOrigin string, wantCreds bool) {
		t.Helper()
		var resp *http.Response
		hdr := http.Header{"Origin": {origin}}
		if method == http.MethodGet {
			resp = d.sseGet("channels=project:a&token="+tok, hdr)
		} else {
			req, _ := http.NewRequest(http.MethodOptions, "http://"+d.addr+d.cfg.SSE.Path, nil)
			req.Header = hdr
			req.Header.Set("Access-Control-Request-Headers", "authorization")
			var err error
			if resp, err = http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
		got, creds := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")
		if got != wantOrigin || (creds == "true") != wantCreds {
			t.Errorf("%s Origin %s: Allow-Origin %q, Allow-Credentials %q; want %q, credentials %v",
				method, origin, got, creds, wantOrigin, wantCreds)
		}
	}
	t.Run("no allowlist", func(t *testing.T) {
		d := startDaemon(t)
		check(t, d, http.MethodGet, "https://evil.example", "*", false)
		check(t, d, http.MethodOptions, "https://evil.example", "*", false)
	})
	t.Run("allowlist", func(t *testing.T) {
		d := startDaemon(t, func(c *config.Config) { c.Origins = []string{"https://app.example"} })
		check(t, d, http.MethodGet, "https://app.example", "https://app.example", true)
		check(t, d, http.MethodOptions, "https://app.example", "https://app.example", true)
		check(t, d, http.MethodOptions, "https://evil.example", "", false)
	})
}
