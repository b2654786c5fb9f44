package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fanoutd/fanoutd/internal/jsonscan"
	"github.com/golang-jwt/jwt/v5"
)

// parse is v.parser.ParseWithClaims(token, c, v.keyFor) written for the
// handshake's hot path: golang-jwt decodes the JOSE header into a
// map[string]any with encoding/json, and runs encoding/json's validation
// over the claims before our hand-written decoder, which together cost
// more than the HMAC. parse splits the token, decodes the header and the
// claims by hand, then verifies the signature with golang-jwt's own
// signing methods (jwt.SigningMethod.Verify; for HMAC, the same check with
// keyed hashes kept for reuse: macPool) and validates the claims with
// golang-jwt's own Validator, built by New with the parser's options.
//
// It accepts exactly what the parser accepts and fails with the same
// golang-jwt errors (jwt.ErrTokenMalformed, ErrTokenUnverifiable,
// ErrTokenSignatureInvalid, ErrTokenInvalidClaims with the validator's
// errors, our ErrUnknownKey and ErrNoKey, worded alike), in the same order
// of checks.
// parse_test.go holds the two side by side, with a fuzz target.
//
// A token of an asymmetric algorithm verified against a RemoteJWKS goes
// through golang-jwt whole (parseJWT): keyfunc's lookup takes a *jwt.Token.
func (v *Verifier) parse(token string, c *claims) error {
	// golang-jwt's splitToken: exactly two dots.
	hSeg, rest, ok := strings.Cut(token, ".")
	cSeg, sSeg, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.IndexByte(sSeg, '.') >= 0 {
		return jwtError(jwt.ErrTokenMalformed, "token contains an invalid number of segments", nil)
	}
	// One buffer for the token's bytes (base64 decodes []byte, not
	// string) and the three decoded segments, from a pool: the largest
	// allocation of a handshake, and nothing keeps it (every claim is a
	// copy; the header's values are read here only).
	hLen, cLen, sLen := strictB64.DecodedLen(len(hSeg)), strictB64.DecodedLen(len(cSeg)), strictB64.DecodedLen(len(sSeg))
	bp := v.buffer(len(token) + hLen + cLen + sLen)
	defer v.bufs.Put(bp)
	buf := *bp
	src, out := buf[:len(token)], buf[len(token):]
	copy(src, token)
	hSrc, cSrc, sSrc := src[:len(hSeg)], src[len(hSeg)+1:len(hSeg)+1+len(cSeg)], src[len(token)-len(sSeg):]

	n, err := strictB64.Decode(out[:hLen], hSrc)
	if err != nil {
		return jwtError(jwt.ErrTokenMalformed, "could not base64 decode header", err)
	}
	hdr, err := decodeHeader(out[:n])
	if err != nil {
		return jwtError(jwt.ErrTokenMalformed, "could not JSON decode header", err)
	}
	out = out[hLen:]

	// The method, if allowed; the remote JWKS's asymmetric keys need a
	// *jwt.Token for keyfunc: golang-jwt parses those tokens itself.
	idx := v.allowed(hdr.alg)
	if idx >= 0 && v.remote != nil && v.families[idx].family != familyHMAC {
		// Through a copy: c stays on the caller's stack on the HMAC path
		// (golang-jwt takes its claims as an interface).
		var cj claims
		err := v.parseJWT(token, &cj)
		*c = cj
		return err
	}

	n, err = strictB64.Decode(out[:cLen], cSrc)
	if err != nil {
		return jwtError(jwt.ErrTokenMalformed, "could not base64 decode claim", err)
	}
	cb := out[:n]
	out = out[cLen:]
	// json.Unmarshal validates the whole input before it calls
	// claims.UnmarshalJSON (and decodeClaims assumes valid JSON): the
	// same check, with the same scanner, without the reflection.
	if !json.Valid(cb) {
		return jwtError(jwt.ErrTokenMalformed, "could not JSON decode claim", jsonError(cb, new(json.RawMessage)))
	}
	if err := decodeClaims(c, cb); err != nil {
		return jwtError(jwt.ErrTokenMalformed, "could not JSON decode claim", err)
	}

	// golang-jwt looks the method up in its registry, then decodes the
	// signature, then checks the method against WithValidMethods.
	if len(hdr.alg) == 0 || hdr.alg[0] != '"' {
		return jwtError(jwt.ErrTokenUnverifiable, "signing method (alg) is unspecified", nil)
	}
	var name string
	if idx < 0 {
		name = jsonscan.Unquote(hdr.alg)
		if jwt.GetSigningMethod(name) == nil {
			return jwtError(jwt.ErrTokenUnverifiable, "signing method (alg) is unavailable", nil)
		}
	}
	n, err = strictB64.Decode(out[:sLen], sSrc)
	if err != nil {
		return jwtError(jwt.ErrTokenMalformed, "could not base64 decode signature", err)
	}
	sig := out[:n]
	if idx < 0 {
		return jwtError(jwt.ErrTokenSignatureInvalid, fmt.Sprintf("signing method %v is invalid", name), nil)
	}
	name, method, alg := v.algs[idx], v.methods[idx], v.families[idx]

	// What golang-jwt signs and verifies: the token up to its second dot.
	signing := token[:len(hSeg)+1+len(cSeg)]
	if alg.family == familyHMAC {
		signing := src[:len(signing)] // the same bytes, for the hash
		// hmacKeyFor without building the key set: each key in force,
		// newest first, until one verifies; the last error otherwise (as
		// golang-jwt walks a jwt.VerificationKeySet).
		now := v.now()
		tried := false
		for i, k := range v.keys {
			if !k.inForce(now) {
				continue
			}
			tried = true
			if err = v.macs[idx*len(v.keys)+i].verify(signing, sig); err == nil {
				break
			}
		}
		if !tried {
			return jwtError(jwt.ErrTokenUnverifiable, "error while executing keyfunc", ErrNoKey)
		}
	} else {
		kid, kidString := "", len(hdr.kid) > 0 && hdr.kid[0] == '"'
		if kidString {
			kid = jsonscan.Unquote(hdr.kid)
		}
		key, kerr := v.fileKeyFor(name, alg, kid, hdr.kid != nil, kidString)
		if kerr != nil {
			return jwtError(jwt.ErrTokenUnverifiable, "error while executing keyfunc", kerr)
		}
		err = verifySignature(method, signing, sig, key)
		if err == errEmptyKeySet {
			return jwtError(jwt.ErrTokenUnverifiable, err.Error(), nil)
		}
	}
	if err != nil {
		return jwtError(jwt.ErrTokenSignatureInvalid, "", err)
	}
	if err := v.validator.Validate(c); err != nil {
		return jwtError(jwt.ErrTokenInvalidClaims, "", err)
	}
	if hdr.crit {
		return errCriticalHeader
	}
	return nil
}

// buffer returns a buffer of n bytes from v.bufs, for parse. n is at
// most about twice MaxTokenBytes (Verify refuses longer tokens first).
func (v *Verifier) buffer(n int) *[]byte {
	bp, _ := v.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	*bp = (*bp)[:n]
	return bp
}

// parseJWT is the parse of golang-jwt, kept for the remote JWKS (and as
// the reference parse's tests compare against).
func (v *Verifier) parseJWT(token string, c *claims) error {
	t, err := v.parser.ParseWithClaims(token, c, v.keyFor)
	if err == nil {
		if _, crit := t.Header["crit"]; crit {
			return errCriticalHeader
		}
	}
	return err
}

// errCriticalHeader refuses a token whose header has "crit": RFC 7515
// §4.1.11 makes a JWS invalid when it lists extensions the recipient does
// not understand, and this one understands none. golang-jwt does not
// check it; both parse paths do, after everything golang-jwt checks.
var errCriticalHeader = jwtError(jwt.ErrTokenUnverifiable, "critical header parameters (crit) are not supported", nil)

// strictB64 is the segment encoding as New configures golang-jwt
// (jwt.WithStrictDecoding, padding not allowed): base64url without
// padding, unused low bits zero.
var strictB64 = base64.RawURLEncoding.Strict()

var (
	// errJSONRefused: refused here, though encoding/json takes it (never,
	// parse_test.go checks).
	errJSONRefused = errors.New("refused JSON")
	errEmptyKeySet = errors.New("keyfunc returned empty verification key set")
)

// joseHeader is what Verify reads of a token's JOSE header: the raw JSON
// values of "alg" and "kid" (nil when absent; the last one when a name is
// repeated, as encoding/json's map keeps it), and whether it has "crit"
// (refused: errCriticalHeader). golang-jwt v5 reads alg and kid only;
// "typ" is not checked.
type joseHeader struct {
	alg, kid []byte
	crit     bool
}

// decodeHeader decodes the header as json.Unmarshal into golang-jwt's
// map[string]any would, refusing what it refuses: invalid JSON, a value
// that is not an object (null decodes to no header at all: no alg), and a
// number beyond float64's range anywhere in it (encoding/json fails to
// store it in an any). Names are compared after unescaping, as the map's
// keys are.
func decodeHeader(b []byte) (joseHeader, error) {
	var h joseHeader
	if !json.Valid(b) {
		return h, jsonError(b, new(map[string]any))
	}
	i := jsonscan.SkipSpace(b, 0)
	switch b[i] {
	case 'n':
		return h, nil
	case '{':
	default:
		return h, jsonError(b, new(map[string]any))
	}
	if !numbersFit(b) {
		return h, jsonError(b, new(map[string]any))
	}
	i = jsonscan.SkipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd := jsonscan.StringEnd(b, i)
		key := b[i:kEnd]
		i = jsonscan.SkipSpace(b, kEnd)
		i = jsonscan.SkipSpace(b, i+1) // the colon
		vEnd := jsonscan.ValueEnd(b, i)
		switch {
		case nameIs(key, "alg"):
			h.alg = b[i:vEnd]
		case nameIs(key, "kid"):
			h.kid = b[i:vEnd]
		case nameIs(key, "crit"):
			h.crit = true
		}
		i = jsonscan.SkipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = jsonscan.SkipSpace(b, i+1)
		}
	}
	return h, nil
}

// nameIs reports whether the JSON string literal q decodes to name.
func nameIs(q []byte, name string) bool {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		// Without escapes the bytes are the name; invalid UTF-8, which
		// encoding/json replaces, cannot equal an ASCII name either way.
		return string(inner) == name
	}
	return jsonscan.Unquote(q) == name
}

// numbersFit reports whether every number of the JSON text b (valid)
// fits a float64 (strconv.ParseFloat): encoding/json fails on one that
// does not when decoding into an any.
func numbersFit(b []byte) bool {
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			i = jsonscan.StringEnd(b, i)
		case c == '-' || c >= '0' && c <= '9':
			end := jsonscan.ValueEnd(b, i)
			if _, err := strconv.ParseFloat(string(b[i:end]), 64); err != nil {
				return false
			}
			i = end
		default:
			i++
		}
	}
	return true
}

// jsonError is the error of json.Unmarshal(b, dst), for b already found
// to be refused: the wording golang-jwt's error carried (this runs only
// for a refused token). Should encoding/json accept b after all, b is
// still refused.
func jsonError(b []byte, dst any) error {
	if err := json.Unmarshal(b, dst); err != nil {
		return err
	}
	return errJSONRefused
}

// allowed returns the index in v.algs of the JSON string literal alg, or
// -1 when it is not an allowed algorithm (or not a string).
func (v *Verifier) allowed(alg []byte) int {
	if len(alg) < 2 || alg[0] != '"' {
		return -1
	}
	inner := alg[1 : len(alg)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		inner = []byte(jsonscan.Unquote(alg))
	}
	for i, a := range v.algs {
		if string(inner) == a {
			return i
		}
	}
	return -1
}

// verifySignature is golang-jwt's check of the keyfunc's key: a
// jwt.VerificationKeySet is tried key by key, the last error kept.
func verifySignature(method jwt.SigningMethod, signing string, sig []byte, key any) error {
	set, ok := key.(jwt.VerificationKeySet)
	if !ok {
		return method.Verify(signing, sig, key)
	}
	if len(set.Keys) == 0 {
		return errEmptyKeySet
	}
	var err error
	for _, k := range set.Keys {
		if err = method.Verify(signing, sig, k); err == nil {
			return nil
		}
	}
	return err
}

// jwtError builds an error as golang-jwt's newError does: the kind, the
// detail, the cause, colon separated, kind and cause wrapped.
func jwtError(kind error, detail string, cause error) error {
	switch {
	case detail != "" && cause != nil:
		return fmt.Errorf("%w: %s: %w", kind, detail, cause)
	case detail != "":
		return fmt.Errorf("%w: %s", kind, detail)
	case cause != nil:
		return fmt.Errorf("%w: %w", kind, cause)
	}
	return kind
}

// inForce reports whether an HMAC key may verify at now: long enough (an
// empty key verifies anything; New refuses short ones) and not past its
// NotAfter.
func (k HMACKey) inForce(now time.Time) bool {
	return len(k.Secret) >= MinKeyBytes && (k.NotAfter.IsZero() || !now.After(k.NotAfter))
}
