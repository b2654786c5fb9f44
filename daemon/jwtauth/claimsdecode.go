package jwtauth

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/fanoutd/fanoutd/internal/jsonscan"
	"github.com/golang-jwt/jwt/v5"
)

// The claims decoder reads the payload of every token at every handshake,
// so it is written by hand: encoding/json's reflection cost ~40 allocations
// per token, more than the signature check. The claims' bytes come here
// after json.Valid has checked them (parse, parse.go), or json.Unmarshal
// (golang-jwt's ParseWithClaims, which validates the whole input before
// calling claims.UnmarshalJSON), so the scanner below may assume
// well-formed input.
//
// Differences from encoding/json, on purpose: claim names match exactly
// (RFC 7519 §4: names are case-sensitive; encoding/json would also take
// "SUB" for "sub"). Everything else matches: the last of duplicate names
// wins, null leaves a claim absent, a claim of the wrong type is an error,
// strings are unescaped and invalid UTF-8 replaced as encoding/json does.

var (
	errClaimsNotObject = errors.New("claims must be a JSON object")
	errClaimType       = errors.New("claim of the wrong JSON type")
)

// decodeClaims fills c from the valid JSON value b.
func decodeClaims(c *claims, b []byte) error {
	i := jsonscan.SkipSpace(b, 0)
	if i < len(b) && b[i] == 'n' {
		return nil // null: no claims, as encoding/json leaves the struct
	}
	if i >= len(b) || b[i] != '{' {
		return errClaimsNotObject
	}
	i = jsonscan.SkipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd := jsonscan.StringEnd(b, i)
		key := b[i+1 : kEnd-1]
		i = jsonscan.SkipSpace(b, kEnd)
		i = jsonscan.SkipSpace(b, i+1) // the colon
		vEnd := jsonscan.ValueEnd(b, i)
		if err := c.set(key, b[i:vEnd]); err != nil {
			return err
		}
		i = jsonscan.SkipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = jsonscan.SkipSpace(b, i+1)
		}
	}
	return nil
}

// set stores one claim. key is the raw name between its quotes: a name
// with escapes matches no claim (none of ours needs one).
func (c *claims) set(key, v []byte) error {
	var err error
	switch string(key) {
	case "sub":
		err = setString(&c.Subject, v)
	case "iss":
		err = setString(&c.Issuer, v)
	case "jti":
		err = setString(&c.ID, v)
	case "aud":
		err = setAudience(&c.Audience, v)
	case "exp":
		c.ExpiresAt, err = numericDate(c.ExpiresAt, v)
	case "nbf":
		c.NotBefore, err = numericDate(c.NotBefore, v)
	case "iat":
		c.IssuedAt, err = numericDate(c.IssuedAt, v)
	case "channels":
		if v[0] == 'n' {
			c.Channels = nil
			return nil
		}
		c.Channels, err = stringArray(c.Channels[:0], v)
		if c.Channels == nil && err == nil {
			c.Channels = []string{} // [] is an empty list, not an absent one
		}
	case "info":
		c.Info = append(c.Info[:0:0], v...)
	}
	return err
}

func setString(dst *string, v []byte) error {
	switch v[0] {
	case 'n':
		return nil
	case '"':
		*dst = jsonscan.Unquote(v)
		return nil
	}
	return errClaimType
}

// setAudience is jwt.ClaimStrings' decoding: a string or an array of
// strings ([] decodes to nil); null leaves it as it was.
func setAudience(dst *jwt.ClaimStrings, v []byte) error {
	switch v[0] {
	case 'n':
		return nil
	case '"':
		*dst = jwt.ClaimStrings{jsonscan.Unquote(v)}
		return nil
	case '[':
		aud, err := stringArray(nil, v)
		if err != nil {
			return jwt.ErrInvalidType
		}
		*dst = aud
		return nil
	}
	return jwt.ErrInvalidType
}

// numericDate is jwt.NumericDate's decoding (seconds as a float64,
// truncated to jwt.TimePrecision), refusing anything but a number (see
// errDateNotNumber); null leaves the claim absent.
func numericDate(old *jwt.NumericDate, v []byte) (*jwt.NumericDate, error) {
	switch {
	case v[0] == 'n':
		return nil, nil
	case v[0] != '-' && (v[0] < '0' || v[0] > '9'):
		return old, errDateNotNumber
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return old, err
	}
	round, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(round), int64(frac*1e9))), nil
}

// stringArray appends the strings of the JSON array v to dst.
func stringArray(dst []string, v []byte) ([]string, error) {
	i := jsonscan.SkipSpace(v, 1)
	for i < len(v) && v[i] != ']' {
		if v[i] != '"' {
			return nil, errClaimType
		}
		end := jsonscan.StringEnd(v, i)
		dst = append(dst, jsonscan.Unquote(v[i:end]))
		i = jsonscan.SkipSpace(v, end)
		if i < len(v) && v[i] == ',' {
			i = jsonscan.SkipSpace(v, i+1)
		}
	}
	return dst, nil
}
