package jwtauth

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs an HS256 token for sub with the given channel patterns, valid
// for ttl from now. It is for development (the dev token printed at start,
// `fanoutd token`) and tests; production tokens come from the application.
func Mint(key []byte, sub string, channels []string, ttl time.Duration, now time.Time) (string, error) {
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Channels: channels,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
}
