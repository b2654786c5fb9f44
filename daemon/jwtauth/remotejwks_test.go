package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksServer is an identity provider's JWKS endpoint over HTTPS (its own
// test certificate, trusted through its client), whose answer the test
// changes: a set, a status, or an outage.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   string
	status int
	hits   atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...providerKey) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.set(keys...)
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...providerKey) {
	var parts []string
	for _, k := range keys {
		parts = append(parts, k.json)
	}
	s.setRaw(`{"keys":[` + strings.Join(parts, ",") + `]}`)
}

func (s *jwksServer) setRaw(body string) {
	s.mu.Lock()
	s.body, s.status = body, http.StatusOK
	s.mu.Unlock()
}

func (s *jwksServer) fail(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// providerKey is a P-256 signing key and its public JWK.
type providerKey struct {
	kid  string
	key  *ecdsa.PrivateKey
	json string
}

func newES256Key(t *testing.T, kid string) providerKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	j, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
		"x": enc(b[1:33]), "y": enc(b[33:])})
	return providerKey{kid: kid, key: k, json: string(j)}
}

func (k providerKey) token(t *testing.T, sub string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": sub, "exp": t0.Add(time.Hour).Unix()})
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRemote(t *testing.T, s *jwksServer, o RemoteOptions) (*Verifier, *RemoteJWKS, *errorLog) {
	t.Helper()
	var errs errorLog
	o.URL, o.Client, o.OnError = s.URL, s.Client(), errs.add
	r, err := NewRemoteJWKS(o)
	if err != nil {
		t.Fatalf("NewRemoteJWKS: %v", err)
	}
	t.Cleanup(r.Close)
	return newVerifier(t, Options{Key: []byte{}, Algorithms: []string{"ES256"}, Remote: r}), r, &errs
}

type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) { l.mu.Lock(); l.errs = append(l.errs, err); l.mu.Unlock() }
func (l *errorLog) count() int    { l.mu.Lock(); defer l.mu.Unlock(); return len(l.errs) }

// TestRemoteJWKS: keys come from the provider's HTTPS endpoint; a key the
// provider adds is found by a refetch on the unknown kid; the refetches
// are rate-limited; an outage, an error status, an empty set or a set with
// a symmetric key keep the last good keys.
func TestRemoteJWKS(t *testing.T) {
	k1, k2, k3 := newES256Key(t, "k1"), newES256Key(t, "k2"), newES256Key(t, "k3")
	s := newJWKSServer(t, k1)
	v, _, errs := newRemote(t, s, RemoteOptions{Refresh: time.Hour, MissRefetch: time.Nanosecond})
	mustVerify := func(tok, what string) {
		t.Helper()
		if id, err := v.Verify(tok); err != nil || id.Subject != "ann" {
			t.Fatalf("%s: %v", what, err)
		}
	}
	mustVerify(k1.token(t, "ann"), "a key of the set")
	if _, err := v.Verify(k2.token(t, "ann")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a kid the provider does not publish: %v, want ErrUnknownKey", err)
	}

	// Rotation at the provider: k2 appears and is found on its first use.
	s.set(k2, k1)
	mustVerify(k2.token(t, "ann"), "a key the provider just added")
	mustVerify(k1.token(t, "ann"), "the old key, still published")

	// The provider fails: the keys held stay in use, each failure reported.
	for i, broken := range []func(){
		func() { s.fail(http.StatusInternalServerError) },
		func() { s.setRaw(`{"keys":[]}`) },
		func() {
			s.setRaw(`{"keys":[{"kty":"oct","kid":"k3","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}`)
		},
		func() { s.setRaw(`not json`) },
	} {
		broken()
		before := errs.count()
		if _, err := v.Verify(k3.token(t, "ann")); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("case %d: unknown kid while the provider is broken: %v", i, err)
		}
		if errs.count() != before+1 {
			t.Fatalf("case %d: %d fetch errors reported, want %d", i, errs.count(), before+1)
		}
		mustVerify(k1.token(t, "ann"), "an old key while the provider is broken")
		mustVerify(k2.token(t, "ann"), "an old key while the provider is broken")
	}
	s.Close() // down altogether
	if _, err := v.Verify(k3.token(t, "ann")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid with the provider down: %v", err)
	}
	mustVerify(k1.token(t, "ann"), "an old key with the provider down")
}

// TestRemoteJWKSMissRefetchIsRateLimited: tokens with made-up kids cause
// at most one fetch per MissRefetch, and none of them waits for another's.
func TestRemoteJWKSMissRefetchIsRateLimited(t *testing.T) {
	k1 := newES256Key(t, "k1")
	s := newJWKSServer(t, k1)
	v, _, _ := newRemote(t, s, RemoteOptions{Refresh: time.Hour, MissRefetch: time.Hour})
	start := s.hits.Load()
	for i := range 50 {
		if _, err := v.Verify(newES256Key(t, "made-up").token(t, "eve")); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("token %d: %v, want ErrUnknownKey", i, err)
		}
	}
	if got := s.hits.Load() - start; got != 1 {
		t.Fatalf("%d fetches for 50 unknown kids, want 1", got)
	}
	if _, err := v.Verify(k1.token(t, "ann")); err != nil {
		t.Fatal(err)
	}
}

// TestRemoteJWKSRefreshes: the background refresh picks up a new key
// without any token asking for it.
func TestRemoteJWKSRefreshes(t *testing.T) {
	k1, k2 := newES256Key(t, "k1"), newES256Key(t, "k2")
	s := newJWKSServer(t, k1)
	v, _, _ := newRemote(t, s, RemoteOptions{Refresh: 10 * time.Millisecond, MissRefetch: time.Hour})
	s.set(k2)
	start := s.hits.Load()
	for i := 0; s.hits.Load() < start+2; i++ { // one full fetch after the change
		if i == 1000 {
			t.Fatal("no refresh in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := v.Verify(k2.token(t, "ann")); err != nil {
		t.Fatalf("a key picked up by the refresh: %v", err)
	}
	if _, err := v.Verify(k1.token(t, "ann")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a key the provider removed: %v, want ErrUnknownKey", err)
	}
}

// TestRemoteJWKSRefusals: plain HTTP, an unreachable provider at start,
// and a first set that holds no usable key are refused by NewRemoteJWKS.
func TestRemoteJWKSRefusals(t *testing.T) {
	if _, err := NewRemoteJWKS(RemoteOptions{URL: "http://127.0.0.1:1/jwks"}); !errors.Is(err, ErrKeyFile) {
		t.Errorf("http URL: %v, want ErrKeyFile", err)
	}
	s := newJWKSServer(t)
	s.setRaw(`{"keys":[]}`)
	if _, err := NewRemoteJWKS(RemoteOptions{URL: s.URL, Client: s.Client()}); err == nil {
		t.Error("an empty first set was accepted")
	}
	// An untrusted certificate: the default client does not know the
	// test's CA.
	s.set(newES256Key(t, "k1"))
	if _, err := NewRemoteJWKS(RemoteOptions{URL: s.URL, Timeout: 5 * time.Second}); err == nil {
		t.Error("a certificate nobody trusts was accepted")
	}
}
