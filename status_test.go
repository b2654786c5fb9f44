package fanoutd

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd/config"
)

const statusAPIKey = "status-test-api-key-0123456789"

// TestStatusPage: off by default; when on, a self-contained page whose
// numbers follow the clients and which shows no secret, no secret file's
// path and no key.
func TestStatusPage(t *testing.T) {
	off := startDaemon(t)
	if code, _ := get(t, "http://"+off.addr+"/"); code != http.StatusNotFound {
		t.Fatalf("GET / with the status page off: %d, want 404", code)
	}

	d := startDaemon(t, func(c *config.Config) {
		c.Status.Enabled = true
		c.API.Key = statusAPIKey
		c.Origins = []string{"https://app.example.com"}
	})
	connections := regexp.MustCompile(`id="connections">(\d+)<`)
	page := func() string {
		t.Helper()
		resp, err := http.Get("http://" + d.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /: %s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("Content-Security-Policy %q", csp)
		}
		return readAll(resp)
	}
	first := page()
	if m := connections.FindStringSubmatch(first); m == nil || m[1] != "0" {
		t.Fatalf("connections before any client: %v", m)
	}
	d.dial(token(t, "ann", "*")).subscribe("news")
	d.dial(token(t, "bob", "*"))
	d.publish("news", "tick", `{}`)
	second := page()
	if m := connections.FindStringSubmatch(second); m == nil || m[1] != "2" {
		t.Fatalf("connections with two clients: %v", m)
	}
	for _, want := range []string{"fanoutd dev", "serving", "https://app.example.com", "publishes/s", `id="channels">1<`} {
		if !strings.Contains(second, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, secret := range []string{testSecret, statusAPIKey} {
		if strings.Contains(first+second, secret) {
			t.Fatal("the status page shows a secret")
		}
	}
	// Its one script is inline (nonce'd, for the live updates); nothing is
	// loaded from elsewhere.
	if regexp.MustCompile(`(?i)(src|href)=|<script src|@import|url\(`).MatchString(second) {
		t.Fatal("the page loads something: it must stand alone")
	}
	// /v1/ still needs the key on the same listener.
	if code, _ := get(t, "http://"+d.addr+"/v1/stats"); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/stats without the key: %d, want 401", code)
	}
}

func TestConfigSummaryHidesSecretFilePaths(t *testing.T) {
	c := config.Default()
	c.Auth.HMACSecretFile = "/run/credentials/fanoutd.service/hmac-key"
	c.Auth.JWKSFile = "/etc/fanoutd/jwks.json"
	c.API.Key = statusAPIKey
	for _, row := range configSummary(c, "127.0.0.1:1") {
		if strings.Contains(row.Value, "/run/credentials") || strings.Contains(row.Value, "jwks") || strings.Contains(row.Value, statusAPIKey) {
			t.Errorf("%s shows %q", row.Name, row.Value)
		}
	}
}
