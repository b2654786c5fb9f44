package jwtauth

import (
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// reloadFixture is a verifier over a JWKS file with an advancing clock.
type reloadFixture struct {
	v      *Verifier
	clock  *testClock
	path   string
	mtime  time.Time
	mu     sync.Mutex
	errors []error
}

func newReloadFixture(t *testing.T, o Options, name string, data []byte) *reloadFixture {
	f := &reloadFixture{clock: newTestClock(t0), path: writeFile(t, name, data), mtime: t0}
	if err := os.Chtimes(f.path, f.mtime, f.mtime); err != nil {
		t.Fatal(err)
	}
	if name == "key.pem" {
		o.PublicKeyFile = f.path
	} else {
		o.JWKSFile = f.path
	}
	o.Now = f.clock.Now
	o.OnReloadError = func(err error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.errors = append(f.errors, err)
	}
	f.v = newVerifier(t, o)
	return f
}

// replace rewrites the file with a new mtime.
func (f *reloadFixture) replace(t *testing.T, data []byte) {
	f.mtime = f.mtime.Add(time.Minute)
	replaceFile(t, f.path, data, f.mtime)
}

func (f *reloadFixture) reloadErrors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errors...)
}

func (f *reloadFixture) wantValid(t *testing.T, what, token string) {
	t.Helper()
	if id, err := f.v.Verify(token); err != nil || id.Subject != "u1" {
		t.Fatalf("%s: Verify = %+v, %v; want u1", what, id, err)
	}
}

func (f *reloadFixture) wantErr(t *testing.T, what, token string, want error) {
	t.Helper()
	if _, err := f.v.Verify(token); !errors.Is(err, want) {
		t.Fatalf("%s: Verify: %v, want %v", what, err, want)
	}
}

func TestJWKSRotation(t *testing.T) {
	k := asymKeys()
	algs := Options{Algorithms: []string{"RS256", "ES256"}}
	oldTok := signKid(t, jwt.SigningMethodRS256, k.rsa, "k1", validClaims("u1"))
	newTok := signKid(t, jwt.SigningMethodRS256, k.rsa2, "k2", validClaims("u1"))
	f := newReloadFixture(t, algs, "jwks.json", jwksBytes(t, jwkOf(t, "k1", "RS256", public(k.rsa))))
	f.wantValid(t, "before rotation", oldTok)
	f.wantErr(t, "new kid before rotation", newTok, ErrUnknownKey)

	f.replace(t, jwksBytes(t, jwkOf(t, "k2", "RS256", public(k.rsa2))))
	f.clock.Advance(500 * time.Millisecond)
	f.wantValid(t, "old kid within the 1s throttle", oldTok)

	f.clock.Advance(500 * time.Millisecond)
	f.wantValid(t, "new kid after the throttle", newTok)
	f.wantErr(t, "old kid after rotation", oldTok, ErrUnknownKey)
	f.wantErr(t, "old kid after rotation", oldTok, ErrInvalidToken)

	// A bad file keeps the old keys and is reported once.
	f.replace(t, []byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`))
	f.clock.Advance(time.Second)
	f.wantValid(t, "after a bad reload", newTok)
	f.clock.Advance(time.Second)
	f.wantValid(t, "a second later", newTok)
	if errs := f.reloadErrors(); len(errs) != 1 || !errors.Is(errs[0], ErrKeyFile) {
		t.Fatalf("OnReloadError got %v, want one ErrKeyFile", errs)
	}

	// Then a good one is picked up: overlapping keys during a rotation.
	f.replace(t, jwksBytes(t, jwkOf(t, "k2", "", public(k.rsa2)), jwkOf(t, "k3", "", public(k.p256))))
	f.clock.Advance(time.Second)
	f.wantValid(t, "k2 still there", newTok)
	f.wantValid(t, "k3 added", signKid(t, jwt.SigningMethodES256, k.p256, "k3", validClaims("u1")))

	// A missing file keeps the keys and is reported once per absence.
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.clock.Advance(time.Second)
		f.wantValid(t, "file removed", newTok)
	}
	if errs := f.reloadErrors(); len(errs) != 2 || !errors.Is(errs[1], ErrKeyFile) {
		t.Fatalf("OnReloadError got %v, want a second ErrKeyFile", errs)
	}
	f.replace(t, jwksBytes(t, jwkOf(t, "k1", "", public(k.rsa))))
	f.clock.Advance(time.Second)
	f.wantValid(t, "file back", oldTok)
	f.wantErr(t, "file back", newTok, ErrUnknownKey)
}

func TestPublicKeyFileRotation(t *testing.T) {
	k := asymKeys()
	oldTok := signKid(t, jwt.SigningMethodRS256, k.rsa, "", validClaims("u1"))
	newTok := signKid(t, jwt.SigningMethodES256, k.p256, "", validClaims("u1"))
	f := newReloadFixture(t, Options{Algorithms: []string{"RS256", "ES256"}}, "key.pem", pemBytes(t, public(k.rsa)))
	f.wantValid(t, "before", oldTok)
	f.replace(t, pemBytes(t, public(k.p256)))
	f.clock.Advance(time.Second)
	f.wantValid(t, "after", newTok)
	f.wantErr(t, "old key after", oldTok, ErrInvalidToken)
	f.replace(t, []byte("not PEM"))
	f.clock.Advance(time.Second)
	f.wantValid(t, "after a bad file", newTok)
	if errs := f.reloadErrors(); len(errs) != 1 || !errors.Is(errs[0], ErrKeyFile) {
		t.Fatalf("OnReloadError got %v, want one ErrKeyFile", errs)
	}
}

// Reload re-reads at once, with no throttle and whatever the mtime.
func TestReload(t *testing.T) {
	k := asymKeys()
	oldTok := signKid(t, jwt.SigningMethodRS256, k.rsa, "k1", validClaims("u1"))
	newTok := signKid(t, jwt.SigningMethodRS256, k.rsa2, "k2", validClaims("u1"))
	f := newReloadFixture(t, Options{Algorithms: []string{"RS256"}}, "jwks.json", jwksBytes(t, jwkOf(t, "k1", "", public(k.rsa))))
	replaceFile(t, f.path, jwksBytes(t, jwkOf(t, "k2", "", public(k.rsa2))), f.mtime) // same mtime
	if err := f.v.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	f.wantValid(t, "after Reload", newTok)
	f.wantErr(t, "old kid after Reload", oldTok, ErrUnknownKey)

	replaceFile(t, f.path, []byte("{}"), f.mtime)
	if err := f.v.Reload(); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("Reload of a bad file: %v, want %v", err, ErrKeyFile)
	}
	f.wantValid(t, "after a failed Reload", newTok)
	if errs := f.reloadErrors(); len(errs) != 0 {
		t.Errorf("Reload's error also went to OnReloadError: %v", errs)
	}
	if err := newVerifier(t, Options{}).Reload(); err != nil {
		t.Errorf("Reload without a key file: %v", err)
	}
}

// A clock that jumps back does not stop reloads until it catches up.
func TestReloadClockBackwards(t *testing.T) {
	k := asymKeys()
	f := newReloadFixture(t, Options{Algorithms: []string{"RS256"}}, "jwks.json", jwksBytes(t, jwkOf(t, "k1", "", public(k.rsa))))
	f.clock.Advance(-time.Hour)
	f.replace(t, jwksBytes(t, jwkOf(t, "k2", "", public(k.rsa2))))
	f.wantValid(t, "after the jump", signKid(t, jwt.SigningMethodRS256, k.rsa2, "k2", validClaims("u1")))
}

func TestReloadConcurrent(t *testing.T) {
	k := asymKeys()
	keys := [][]byte{
		jwksBytes(t, jwkOf(t, "a", "", public(k.rsa)), jwkOf(t, "b", "", public(k.p256))),
		jwksBytes(t, jwkOf(t, "b", "", public(k.p256)), jwkOf(t, "a", "", public(k.rsa))),
	}
	f := newReloadFixture(t, Options{Algorithms: []string{"RS256", "ES256"}}, "jwks.json", keys[0])
	tokA := signKid(t, jwt.SigningMethodRS256, k.rsa, "a", validClaims("u1"))
	tokB := signKid(t, jwt.SigningMethodES256, k.p256, "b", validClaims("u1"))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for range 100 {
				for _, tok := range []string{tokA, tokB} {
					if _, err := f.v.Verify(tok); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	for i := range 20 {
		f.replace(t, keys[i%2])
		f.clock.Advance(time.Second)
		if i%5 == 0 {
			if err := f.v.Reload(); err != nil {
				t.Error(err)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
