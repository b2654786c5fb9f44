package jwtauth

import (
	"encoding/json"
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// claims are the token claims Verify reads.
type claims struct {
	jwt.RegisteredClaims
	Channels []string `json:"channels"`
	// Info is shown in presence as it is.
	Info json.RawMessage `json:"info"`
}

// errDateNotNumber: a time claim that is not a JSON number.
var errDateNotNumber = errors.New("exp, nbf and iat must be JSON numbers (RFC 7519 NumericDate)")

// UnmarshalJSON decodes the claims as golang-jwt would, except that exp,
// nbf and iat, when present, must be JSON numbers: golang-jwt reads them
// through json.Number, which also accepts a string holding a number
// ("exp":"9999999999"); RFC 7519 §2 says a NumericDate is a number, and an
// issuer that writes a string has a bug worth hearing about rather than a
// token worth honouring. null is left to golang-jwt (absent, then "exp"
// required refuses it). The decoder is hand-written (claimsdecode.go).
func (c *claims) UnmarshalJSON(b []byte) error { return decodeClaims(c, b) }
