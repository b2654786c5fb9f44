package fanoutd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/golang-jwt/jwt/v5"
)

// TestJWKSURL: with auth.jwks_url the daemon takes tokens signed by the
// identity provider's keys, fetched over HTTPS from a server whose CA is
// given in auth.jwks_ca_file; a key the provider adds is accepted on its
// first use; with the provider down, the keys fetched before still work;
// a reload of an unrelated key does not refetch.
func TestJWKSURL(t *testing.T) {
	k1, k2 := newProviderKey(t, "k1"), newProviderKey(t, "k2")
	var mu sync.Mutex
	published := []providerKey{k1}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		keys := make([]json.RawMessage, len(published))
		for i, k := range published {
			keys[i] = k.jwk
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, func(c *config.Config) {
		c.Auth.HMACSecret = ""
		c.Auth.Algorithms = []string{"ES256"}
		c.Auth.JWKSURL = ts.URL + "/.well-known/jwks.json"
		c.Auth.JWKSCAFile = ca
	})
	d.dial(k1.token(t, "ann")).subscribe("news")
	mu.Lock()
	published = []providerKey{k2, k1} // the provider rotates
	mu.Unlock()
	d.dial(k2.token(t, "bob")).subscribe("news")

	ts.Close() // the provider goes down
	cfg := d.cfg
	cfg.LogLevel = "debug"
	if _, err := d.srv.Reload(cfg); err != nil {
		t.Fatalf("a reload with the provider down and the JWKS settings unchanged: %v", err)
	}
	d.dial(k1.token(t, "carl")).subscribe("news")
	d.dial(k2.token(t, "dora")).subscribe("news")
	if got := upgradeStatus(t, d, subprotocol(newProviderKey(t, "k3").token(t, "eve")), ""); got != http.StatusUnauthorized {
		t.Fatalf("a key the provider never published: %d, want 401", got)
	}
	// Changing the URL while the provider is down refuses the reload and
	// keeps the keys in force.
	cfg.Auth.JWKSURL = ts.URL + "/other"
	if _, err := d.srv.Reload(cfg); err == nil {
		t.Fatal("a reload to an unreachable JWKS was accepted")
	}
	d.dial(k1.token(t, "fay")).subscribe("news")
}

// providerKey is an identity provider's P-256 signing key and its JWK.
type providerKey struct {
	kid string
	key *ecdsa.PrivateKey
	jwk json.RawMessage
}

func newProviderKey(t *testing.T, kid string) providerKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	j, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
		"x": enc(b[1:33]), "y": enc(b[33:])})
	return providerKey{kid: kid, key: k, jwk: j}
}

func (k providerKey) token(t *testing.T, sub string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": sub, "channels": []string{"*"},
		"exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
