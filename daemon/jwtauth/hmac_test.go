package jwtauth

import (
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestMACPoolMatchesGolangJWT: macPool.verify answers as
// jwt.SigningMethodHMAC.Verify does, for each hash, a good and a bad
// signature, on a fresh keyed hash and on reused ones.
func TestMACPoolMatchesGolangJWT(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	signing := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ"
	for _, m := range []*jwt.SigningMethodHMAC{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		pools := newMACPools([]jwt.SigningMethod{m}, []HMACKey{{Secret: key}})
		good, err := m.Sign(signing, key)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), good...)
		bad[0] ^= 1
		for round := range 3 {
			for _, sig := range [][]byte{good, bad, good[:len(good)-1], nil} {
				want := m.Verify(signing, sig, key)
				got := pools[0].verify([]byte(signing), sig)
				if !errors.Is(got, want) && (got != nil || want != nil) {
					t.Fatalf("%s round %d sig %x: %v, golang-jwt %v", m.Alg(), round, sig, got, want)
				}
			}
		}
	}
}

// TestVerifyAllocs pins what an HS256 token costs: 8 allocations (17
// with golang-jwt's HMAC, which keyed a new hash for every token, a new
// buffer for the token's bytes and new claims).
func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops at random under the race detector")
	}
	v, tok := benchToken(t)
	if a := testing.AllocsPerRun(200, func() {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}); a > 8 {
		t.Fatalf("%v allocations, want at most 8", a)
	}
}
