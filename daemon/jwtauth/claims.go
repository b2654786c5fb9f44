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

// UnmarshalJSON decodes the claims as golang-jwt would, after checking that
// exp, nbf and iat, when present, are JSON numbers. golang-jwt reads them
// through json.Number, which also accepts a string holding a number
// ("exp":"9999999999"); RFC 7519 §2 says a NumericDate is a number, and an
// issuer that writes a string has a bug worth hearing about rather than a
// token worth honouring. null is left to golang-jwt (absent, then "exp"
// required refuses it).
func (c *claims) UnmarshalJSON(b []byte) error {
	var dates struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(b, &dates); err != nil {
		return err
	}
	for _, d := range []json.RawMessage{dates.Exp, dates.Nbf, dates.Iat} {
		if len(d) > 0 && string(d) != "null" && !isJSONNumber(d) {
			return errDateNotNumber
		}
	}
	type plain claims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// isJSONNumber reports whether a raw JSON value is a number: it starts with
// a digit or a minus sign (json.Unmarshal has validated the rest).
func isJSONNumber(v json.RawMessage) bool {
	return v[0] == '-' || v[0] >= '0' && v[0] <= '9'
}
