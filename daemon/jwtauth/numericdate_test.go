package jwtauth

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyNumericDates: exp, nbf and iat are RFC 7519 NumericDates, JSON
// numbers. golang-jwt decodes them through json.Number, which also takes a
// string holding a number: such a token is refused here. An iat in the
// future beyond the leeway is refused too (golang-jwt checks iat only when
// asked).
func TestVerifyNumericDates(t *testing.T) {
	v := newVerifier(t, Options{Leeway: 5 * time.Second})
	exp := t0.Add(time.Hour).Unix()
	cases := []struct {
		name   string
		claims jwt.MapClaims
		ok     bool
	}{
		{"numbers", jwt.MapClaims{"sub": "ann", "exp": exp, "iat": t0.Unix(), "nbf": t0.Unix()}, true},
		{"fractional exp", jwt.MapClaims{"sub": "ann", "exp": float64(exp) + 0.5}, true},
		{"iat within the leeway", jwt.MapClaims{"sub": "ann", "exp": exp, "iat": t0.Add(5 * time.Second).Unix()}, true},
		{"exp as a string", jwt.MapClaims{"sub": "ann", "exp": "9999999999"}, false},
		{"nbf as a string", jwt.MapClaims{"sub": "ann", "exp": exp, "nbf": "0"}, false},
		{"iat as a string", jwt.MapClaims{"sub": "ann", "exp": exp, "iat": "0"}, false},
		{"exp as a bool", jwt.MapClaims{"sub": "ann", "exp": true}, false},
		{"exp null", jwt.MapClaims{"sub": "ann", "exp": nil}, false},
		{"iat in the future", jwt.MapClaims{"sub": "ann", "exp": exp, "iat": t0.Add(6 * time.Second).Unix()}, false},
		{"iat a day ahead", jwt.MapClaims{"sub": "ann", "exp": exp, "iat": t0.Add(24 * time.Hour).Unix()}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(sign(t, jwt.SigningMethodHS256, testKey, tc.claims))
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Verify: %v", err)
			case !tc.ok && err == nil:
				t.Fatal("Verify accepted the token")
			case !tc.ok && !errors.Is(err, ErrInvalidToken):
				t.Fatalf("Verify: %v, want ErrInvalidToken", err)
			}
		})
	}
}
