package jwtauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// parseErrorKinds are the errors parse must report exactly when golang-jwt's
// ParseWithClaims does: golang-jwt's kinds and the validator's reasons, and
// the keyfunc's.
var parseErrorKinds = []error{
	jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
	jwt.ErrTokenInvalidClaims, jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet,
	jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer,
	jwt.ErrTokenRequiredClaimMissing, jwt.ErrSignatureInvalid, jwt.ErrInvalidKeyType,
	ErrUnknownKey, ErrNoKey, errDateNotNumber,
}

// verifyErrors are Verify's documented errors.
var verifyErrors = []error{ErrNoToken, ErrTokenTooLong, ErrInvalidToken, ErrExpired, ErrUnknownKey}

// samePaths checks that parse and golang-jwt's ParseWithClaims, as New
// configured it, agree on token: both accept it with the same claims, or
// both refuse it with the same error (same kinds, same words); and that
// Verify gives the same identity or the same error either way. It returns the
// outcome: "accepted" or the kinds of error.
func samePaths(t *testing.T, v *Verifier, token string) string {
	t.Helper()
	var fast, ref claims
	fastErr, refErr := v.parse(token, &fast), v.parseJWT(token, &ref)
	outcome := "accepted"
	switch {
	case (fastErr == nil) != (refErr == nil):
		t.Fatalf("%q:\nparse:      %v\ngolang-jwt: %v", token, fastErr, refErr)
	case fastErr == nil && !reflect.DeepEqual(fast, ref):
		t.Fatalf("%q: claims\nparse:      %+v\ngolang-jwt: %+v", token, fast, ref)
	case fastErr != nil && fastErr.Error() != refErr.Error():
		t.Fatalf("%q: errors worded differently:\nparse:      %v\ngolang-jwt: %v", token, fastErr, refErr)
	case fastErr != nil:
		var kinds []string
		for _, kind := range parseErrorKinds {
			if errors.Is(fastErr, kind) != errors.Is(refErr, kind) {
				t.Fatalf("%q: errors.Is(_, %q) differs:\nparse:      %v\ngolang-jwt: %v", token, kind, fastErr, refErr)
			}
			if errors.Is(fastErr, kind) {
				kinds = append(kinds, kind.Error())
			}
		}
		outcome = strings.Join(kinds, "; ")
	}
	id, err := v.verify(token, false)
	refID, refErr := v.verify(token, true)
	if !reflect.DeepEqual(id, refID) {
		t.Fatalf("%q: Verify\nparse:      %+v\ngolang-jwt: %+v", token, id, refID)
	}
	for _, want := range verifyErrors {
		if errors.Is(err, want) != errors.Is(refErr, want) {
			t.Fatalf("%q: errors.Is(Verify, %q) differs:\nparse:      %v\ngolang-jwt: %v", token, want, err, refErr)
		}
	}
	if errString(err) != errString(refErr) {
		t.Fatalf("%q: Verify\nparse:      %v\ngolang-jwt: %v", token, err, refErr)
	}
	return outcome
}

// rawHS signs header and claims, spelt exactly as given, with an HMAC of
// the given hash (whatever the header's alg says).
func rawHS(h func() hash.Hash, key []byte, header, claims string) string {
	s := b64u([]byte(header)) + "." + b64u([]byte(claims))
	m := hmac.New(h, key)
	m.Write([]byte(s))
	return s + "." + b64u(m.Sum(nil))
}

// hs256 signs header and claims with testKey.
func hs256(header, claims string) string { return rawHS(sha256.New, testKey, header, claims) }

// segment replaces the i-th segment of token.
func segment(token string, i int, seg string) string {
	parts := strings.Split(token, ".")
	parts[i] = seg
	return strings.Join(parts, ".")
}

// parseCases are tokens for the comparison: valid ones and every way of
// being wrong that the format, the header, the claims, the signature and
// the validation have.
func parseCases(t testing.TB) map[string]string {
	unix := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).Unix(), 10) }
	exp := unix(time.Hour)
	const hdr = `{"alg":"HS256","typ":"JWT"}`
	ok := func(extra string) string { return `{"sub":"u1","exp":` + exp + extra + `}` }
	valid := hs256(hdr, ok(`,"channels":["a","b"],"info":{"n":1}`))
	k := asymKeys()
	pemKey := pemBytes(t, public(k.rsa))
	cases := map[string]string{
		"valid":                 valid,
		"valid minted":          mint(t, testKey, "u1", []string{"x"}, time.Hour, t0),
		"valid aud and iss":     hs256(hdr, ok(`,"aud":"fanout","iss":"https://issuer"`)),
		"valid aud list":        hs256(hdr, ok(`,"aud":["x","fanout"],"iss":"https://issuer"`)),
		"valid spaces":          hs256(" \t\n"+hdr+" \r\n", " \n"+ok("")+" \t"),
		"valid info null":       hs256(hdr, ok(`,"info":null,"channels":null`)),
		"valid exp fraction":    hs256(hdr, `{"sub":"u1","exp":`+exp+`.999}`),
		"valid exp float":       hs256(hdr, `{"sub":"u1","exp":`+strconv.FormatFloat(float64(t0.Add(time.Hour).Unix()), 'e', -1, 64)+`}`),
		"valid HS512":           rawHS(sha512.New, testKey, `{"alg":"HS512"}`, ok("")),
		"valid nbf past":        hs256(hdr, ok(`,"nbf":`+unix(-time.Minute))),
		"valid iat past":        hs256(hdr, ok(`,"iat":`+unix(-time.Minute))),
		"valid sub escaped":     hs256(hdr, `{"sub":"\u0075\ud83d\ude00\ud800","exp":`+exp+`}`),
		"valid sub bad UTF-8":   hs256(hdr, "{\"sub\":\"u\xff\",\"exp\":"+exp+"}"),
		"valid duplicate claim": hs256(hdr, `{"sub":"x","exp":1,"sub":"u1","exp":`+exp+`}`),
		"valid unknown claims":  hs256(hdr, ok(`,"x":{"y":[1e400,"}"]},"SUB":"root"`)),

		"expired":                    hs256(hdr, `{"sub":"u1","exp":`+unix(-time.Second)+`}`),
		"expires now":                hs256(hdr, `{"sub":"u1","exp":`+unix(0)+`}`),
		"expires now fraction":       hs256(hdr, `{"sub":"u1","exp":`+unix(0)+`.5}`),
		"expired within leeway":      hs256(hdr, `{"sub":"u1","exp":`+unix(-20*time.Second)+`}`),
		"expired, wrong aud and nbf": hs256(hdr, `{"sub":"u1","exp":`+unix(-time.Second)+`,"aud":"x","nbf":`+unix(time.Hour)+`}`),
		"exp zero":                   hs256(hdr, `{"sub":"u1","exp":0}`),
		"exp negative":               hs256(hdr, `{"sub":"u1","exp":-1e18}`),
		"exp huge":                   hs256(hdr, `{"sub":"u1","exp":1e300}`),
		"exp out of range":           hs256(hdr, `{"sub":"u1","exp":1e400}`),
		"exp missing":                hs256(hdr, `{"sub":"u1"}`),
		"exp null":                   hs256(hdr, `{"sub":"u1","exp":null}`),
		"exp string":                 hs256(hdr, `{"sub":"u1","exp":"`+exp+`"}`),
		"exp bool":                   hs256(hdr, `{"sub":"u1","exp":true}`),
		"exp object":                 hs256(hdr, `{"sub":"u1","exp":{}}`),
		"nbf future":                 hs256(hdr, ok(`,"nbf":`+unix(time.Minute))),
		"nbf within leeway":          hs256(hdr, ok(`,"nbf":`+unix(20*time.Second))),
		"nbf string":                 hs256(hdr, ok(`,"nbf":"1"`)),
		"iat future":                 hs256(hdr, ok(`,"iat":`+unix(time.Minute))),
		"iat within leeway":          hs256(hdr, ok(`,"iat":`+unix(20*time.Second))),
		"aud wrong":                  hs256(hdr, ok(`,"aud":"other","iss":"https://issuer"`)),
		"aud empty":                  hs256(hdr, ok(`,"aud":"","iss":"https://issuer"`)),
		"aud empty list":             hs256(hdr, ok(`,"aud":[],"iss":"https://issuer"`)),
		"aud list of empty":          hs256(hdr, ok(`,"aud":[""],"iss":"https://issuer"`)),
		"aud number":                 hs256(hdr, ok(`,"aud":1`)),
		"aud list with number":       hs256(hdr, ok(`,"aud":["fanout",1]`)),
		"iss wrong":                  hs256(hdr, ok(`,"aud":"fanout","iss":"https://other"`)),
		"iss missing":                hs256(hdr, ok(`,"aud":"fanout"`)),
		"iss number":                 hs256(hdr, ok(`,"aud":"fanout","iss":1`)),
		"iss case":                   hs256(hdr, ok(`,"aud":"fanout","iss":"https://ISSUER"`)),
		"sub missing":                hs256(hdr, `{"exp":`+exp+`}`),
		"sub number":                 hs256(hdr, `{"sub":1,"exp":`+exp+`}`),
		"channels not a list":        hs256(hdr, ok(`,"channels":"a"`)),
		"channels with a number":     hs256(hdr, ok(`,"channels":["a",1]`)),
		"claims null":                hs256(hdr, `null`),
		"claims list":                hs256(hdr, `[]`),
		"claims string":              hs256(hdr, `"sub"`),
		"claims number":              hs256(hdr, `1`),
		"claims empty":               hs256(hdr, ``),
		"claims not JSON":            hs256(hdr, `sub=u1`),
		"claims trailing garbage":    hs256(hdr, ok("")+`x`),
		"claims trailing object":     hs256(hdr, ok("")+`{}`),
		"claims trailing comma":      hs256(hdr, `{"sub":"u1","exp":`+exp+`,}`),
		"claims unclosed":            hs256(hdr, `{"sub":"u1","exp":`+exp),
		"claims control character":   hs256(hdr, "{\"sub\":\"u\x01\",\"exp\":"+exp+"}"),
		"claims bad escape":          hs256(hdr, `{"sub":"u\x","exp":`+exp+`}`),
		"claims single quotes":       hs256(hdr, `{'sub':'u1','exp':`+exp+`}`),
		"claims leading zero":        hs256(hdr, `{"sub":"u1","exp":0`+exp+`}`),
		"claims BOM":                 hs256(hdr, "\ufeff"+ok("")),
		"claims deep":                hs256(hdr, ok(`,"x":`+strings.Repeat("[", 600)+strings.Repeat("]", 600))),

		"alg none":                      unsigned(`{"alg":"none","typ":"JWT"}`, ok("")),
		"alg none signed":               hs256(`{"alg":"none"}`, ok("")),
		"alg None":                      hs256(`{"alg":"None"}`, ok("")),
		"alg hs256":                     hs256(`{"alg":"hs256"}`, ok("")),
		"alg HS384 not allowed":         rawHS(sha512.New384, testKey, `{"alg":"HS384"}`, ok("")),
		"alg unknown":                   hs256(`{"alg":"XS256"}`, ok("")),
		"alg missing":                   hs256(`{"typ":"JWT"}`, ok("")),
		"alg number":                    hs256(`{"alg":256}`, ok("")),
		"alg null":                      hs256(`{"alg":null}`, ok("")),
		"alg list":                      hs256(`{"alg":["HS256"]}`, ok("")),
		"alg escaped":                   hs256(`{"alg":"HS\u0032\u00356"}`, ok("")),
		"alg name escaped":              hs256(`{"\u0061lg":"HS256"}`, ok("")),
		"alg name upper case":           hs256(`{"ALG":"HS256"}`, ok("")),
		"alg twice, none last":          hs256(`{"alg":"HS256","alg":"none"}`, ok("")),
		"alg twice, HS256 last":         hs256(`{"alg":"none","alg":"HS256"}`, ok("")),
		"alg twice, number last":        hs256(`{"alg":"HS256","alg":1}`, ok("")),
		"alg inside an object":          hs256(`{"x":{"alg":"HS256"}}`, ok("")),
		"alg with a space":              hs256(`{"alg":"HS256 "}`, ok("")),
		"alg with a NUL":                hs256(`{"alg":"HS256\u0000"}`, ok("")),
		"alg RS256 with HMAC":           hs256(`{"alg":"RS256","kid":"rs"}`, ok("")),
		"alg RS256 with the PEM as key": rawHS(sha256.New, pemKey, `{"alg":"HS256","kid":"rs"}`, ok("")),
		"alg unknown and claims bad":    hs256(`{"alg":"XS256"}`, `x`),
		"alg missing and claims bad":    hs256(`{}`, `x`),
		"alg unknown and bad signature": segment(hs256(`{"alg":"XS256"}`, ok("")), 2, "@@"),
		"alg HS384 and bad signature":   segment(hs256(`{"alg":"HS384"}`, ok("")), 2, "@@"),

		"header null":              hs256(`null`, ok("")),
		"header list":              hs256(`[{"alg":"HS256"}]`, ok("")),
		"header string":            hs256(`"HS256"`, ok("")),
		"header number":            hs256(`1`, ok("")),
		"header true":              hs256(`true`, ok("")),
		"header empty":             hs256(``, ok("")),
		"header empty object":      hs256(`{}`, ok("")),
		"header not JSON":          hs256(`alg=HS256`, ok("")),
		"header trailing garbage":  hs256(hdr+`x`, ok("")),
		"header two objects":       hs256(hdr+`{}`, ok("")),
		"header unclosed":          hs256(`{"alg":"HS256"`, ok("")),
		"header trailing comma":    hs256(`{"alg":"HS256",}`, ok("")),
		"header BOM":               hs256("\ufeff"+hdr, ok("")),
		"header number too big":    hs256(`{"alg":"HS256","x":1e400}`, ok("")),
		"header deep number":       hs256(`{"alg":"HS256","x":[{"y":-1E+999}]}`, ok("")),
		"header tiny number":       hs256(`{"alg":"HS256","x":1e-400}`, ok("")),
		"header numbers":           hs256(`{"alg":"HS256","x":[0,-0.5,1e308,"1e400"],"1e400":2}`, ok("")),
		"header crit":              hs256(`{"alg":"HS256","crit":["exp"],"exp":1}`, ok("")),
		"header typ":               hs256(`{"alg":"HS256","typ":{"x":null}}`, ok("")),
		"header bad UTF-8":         hs256("{\"alg\":\"HS256\",\"x\":\"\xff\"}", ok("")),
		"header bad UTF-8 in name": hs256("{\"al\xffg\":\"HS256\",\"alg\":\"HS256\"}", ok("")),
		"header control character": hs256("{\"alg\":\"HS256\",\"x\":\"\x1f\"}", ok("")),
		"header deep":              hs256(`{"alg":"HS256","x":`+strings.Repeat("[", 1000)+strings.Repeat("]", 1000)+`}`, ok("")),

		"kid number":          hs256(`{"alg":"HS256","kid":1}`, ok("")),
		"kid null":            hs256(`{"alg":"HS256","kid":null}`, ok("")),
		"kid object":          hs256(`{"alg":"HS256","kid":{}}`, ok("")),
		"RS256 kid":           signKid(t, jwt.SigningMethodRS256, k.rsa, "rs", validClaims("u1")),
		"RS256 no kid":        signKid(t, jwt.SigningMethodRS256, k.rsa, "", validClaims("u1")),
		"RS256 kid unknown":   signKid(t, jwt.SigningMethodRS256, k.rsa, "zz", validClaims("u1")),
		"RS256 kid of ES key": signKid(t, jwt.SigningMethodRS256, k.rsa, "es", validClaims("u1")),
		"RS256 other RSA key": signKid(t, jwt.SigningMethodRS256, k.rsa2, "rs", validClaims("u1")),
		"ES256 kid":           signKid(t, jwt.SigningMethodES256, k.p256, "es", validClaims("u1")),
		"ES256 expired":       signKid(t, jwt.SigningMethodES256, k.p256, "es", jwt.MapClaims{"sub": "u1", "exp": t0.Unix()}),
		"ES384 kid":           signKid(t, jwt.SigningMethodES384, k.p384, "es", validClaims("u1")),
		"EdDSA kid":           signKid(t, jwt.SigningMethodEdDSA, k.ed, "ed", validClaims("u1")),
		"PS256 kid":           signKid(t, jwt.SigningMethodPS256, k.rsa, "rs", validClaims("u1")),

		"empty":                   "",
		"one segment":             "abc",
		"two segments":            valid[:strings.LastIndexByte(valid, '.')],
		"four segments":           valid + ".",
		"four segments with data": valid + ".abc",
		"dots":                    "..",
		"three dots":              "...",
		"bearer":                  "Bearer " + valid,
		"space":                   valid + " ",
		"header padded":           segment(valid, 0, b64u([]byte(`{"alg":"HS256"}`))+"="),
		"claims padded":           segment(valid, 1, strings.Split(valid, ".")[1]+"=="),
		"signature padded":        valid + "=",
		"signature empty":         resign(valid, ""),
		"signature short":         valid[:len(valid)-1],
		"signature not canonical": sigVariant(valid),
		"signature bit flipped": resign(valid, b64u(func() []byte {
			s, _ := base64.RawURLEncoding.DecodeString(strings.Split(valid, ".")[2])
			s[0] ^= 1
			return s
		}())),
		"signature standard alphabet": resign(valid, strings.NewReplacer("-", "+", "_", "/").Replace(strings.Split(valid, ".")[2])+"+/"),
		"header not canonical":        segment(hs256(`{"alg":"HS256"} `, ok("")), 0, sigVariant(b64u([]byte(`{"alg":"HS256"} `)))),
		"header bad character":        segment(valid, 0, "eyJ*"),
		"claims bad character":        segment(valid, 1, "e$30"),
		"claims one character":        segment(valid, 1, "e"),
		"header with line break":      valid[:5] + "\n" + valid[5:],
		"too long":                    valid + strings.Repeat("A", 5000),
		"claims swapped":              segment(valid, 1, b64u([]byte(ok(`,"channels":["*"]`)))),
	}
	// Tokens that need a hand-built header with an RS256 signature.
	rs := func(header string) string {
		s := b64u([]byte(header)) + "." + b64u([]byte(ok("")))
		sig, err := jwt.SigningMethodRS256.Sign(s, k.rsa)
		if err != nil {
			t.Fatal(err)
		}
		return s + "." + b64u(sig)
	}
	cases["RS256 kid number"] = rs(`{"alg":"RS256","kid":1}`)
	cases["RS256 kid twice"] = rs(`{"alg":"RS256","kid":"zz","kid":"rs"}`)
	cases["RS256 kid escaped"] = rs(`{"alg":"RS256","kid":"\u0072s"}`)
	cases["RS256 header invalid"] = rs(`{"alg":"RS256","kid":"rs",}`)
	cases["RS256 header numbers"] = rs(`{"alg":"RS256","kid":"rs","n":1e309}`)
	return cases
}

// parseConfigs are the verifiers the cases run against: HMAC alone with
// audience, issuer and leeway; the defaults; HMAC and every asymmetric
// family from a JWKS; a PEM file; a rotation of HMAC keys, and one whose
// keys have all expired.
func parseConfigs(t testing.TB) map[string]Options {
	k := asymKeys()
	jwks := writeFile(t, "jwks.json", jwksBytes(t,
		jwkOf(t, "rs", "", public(k.rsa)), jwkOf(t, "es", "ES256", public(k.p256)), jwkOf(t, "ed", "", public(k.ed))))
	return map[string]Options{
		"aud iss leeway": {Audience: "fanout", Issuer: "https://issuer", Leeway: 30 * time.Second},
		"defaults":       {},
		"jwks": {Algorithms: []string{"HS256", "HS512", "RS256", "PS256", "ES256", "ES384", "EdDSA"},
			JWKSFile: jwks, Audience: "fanout"},
		"pem": {Algorithms: []string{"RS256", "HS256"}, PublicKeyFile: writeFile(t, "rs.pem", pemBytes(t, public(k.rsa))),
			Issuer: "https://issuer"},
		"rotation": {Algorithms: []string{"HS512", "HS256"}, Key: []byte{},
			Keys: []HMACKey{{Secret: otherKey}, {Secret: testKey, NotAfter: t0.Add(time.Hour)}, {Secret: []byte(strings.Repeat("k", 40)), NotAfter: t0}}},
		"keys past NotAfter": {Key: []byte{}, Keys: []HMACKey{{Secret: testKey, NotAfter: t0.Add(-time.Second)}}},
	}
}

// TestParseMatchesGolangJWT runs every case against every configuration
// through both parsers, and checks that the cases reach every outcome (a
// comparison of two parsers refusing everything would prove nothing).
func TestParseMatchesGolangJWT(t *testing.T) {
	if _, ok := any(&claims{}).(jwt.ClaimsValidator); ok {
		t.Fatal("claims has a Validate method, which golang-jwt calls and parse does not")
	}
	cases := parseCases(t)
	seen := map[string]int{}
	for cname, o := range parseConfigs(t) {
		v := newVerifier(t, o)
		for name, token := range cases {
			t.Run(cname+"/"+name, func(t *testing.T) {
				seen[samePaths(t, v, token)]++
			})
		}
	}
	for _, want := range []string{
		"accepted",
		jwt.ErrTokenMalformed.Error(),
		jwt.ErrTokenUnverifiable.Error(),
		jwt.ErrTokenUnverifiable.Error() + "; " + ErrUnknownKey.Error(),
		jwt.ErrTokenUnverifiable.Error() + "; " + ErrNoKey.Error(),
		jwt.ErrTokenSignatureInvalid.Error(),
		jwt.ErrTokenSignatureInvalid.Error() + "; " + jwt.ErrSignatureInvalid.Error(),
		jwt.ErrTokenMalformed.Error() + "; " + errDateNotNumber.Error(),
		jwt.ErrTokenInvalidClaims.Error() + "; " + jwt.ErrTokenExpired.Error(),
		jwt.ErrTokenInvalidClaims.Error() + "; " + jwt.ErrTokenExpired.Error() + "; " + jwt.ErrTokenNotValidYet.Error() + "; " + jwt.ErrTokenInvalidAudience.Error(),
		jwt.ErrTokenInvalidClaims.Error() + "; " + jwt.ErrTokenNotValidYet.Error(),
		jwt.ErrTokenInvalidClaims.Error() + "; " + jwt.ErrTokenUsedBeforeIssued.Error(),
		jwt.ErrTokenInvalidClaims.Error() + "; " + jwt.ErrTokenInvalidAudience.Error(),
		jwt.ErrTokenInvalidClaims.Error() + "; " + jwt.ErrTokenInvalidIssuer.Error(),
		jwt.ErrTokenInvalidClaims.Error() + "; " + jwt.ErrTokenRequiredClaimMissing.Error(),
	} {
		if seen[want] == 0 {
			t.Errorf("no case ended %q; outcomes: %v", want, seen)
		}
	}
}

// TestParseRemoteMatchesGolangJWT: with a remote JWKS, asymmetric tokens
// go through golang-jwt, HMAC ones through parse; both agree.
func TestParseRemoteMatchesGolangJWT(t *testing.T) {
	key := newES256Key(t, "k1")
	s := newJWKSServer(t, key)
	r, err := NewRemoteJWKS(RemoteOptions{URL: s.URL, Client: s.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	v := newVerifier(t, Options{Algorithms: []string{"HS256", "ES256"}, Remote: r})
	other := newES256Key(t, "k2")
	cases := map[string]string{
		"ES256":             key.token(t, "u1"),
		"ES256 unknown kid": other.token(t, "u1"),
		"ES256 bad claims":  segment(key.token(t, "u1"), 1, b64u([]byte("x"))),
		"HS256":             mint(t, testKey, "u1", nil, time.Hour, t0),
		"HS256 expired":     mint(t, testKey, "u1", nil, time.Hour, t0.Add(-2*time.Hour)),
	}
	want := map[string]string{
		"ES256":             "accepted",
		"ES256 unknown kid": jwt.ErrTokenUnverifiable.Error() + "; " + ErrUnknownKey.Error(),
		"ES256 bad claims":  jwt.ErrTokenMalformed.Error(),
		"HS256":             "accepted",
		"HS256 expired":     jwt.ErrTokenInvalidClaims.Error() + "; " + jwt.ErrTokenExpired.Error(),
	}
	for name, token := range cases {
		if got := samePaths(t, v, token); got != want[name] {
			t.Errorf("%s: %q, want %q", name, got, want[name])
		}
	}
}

// FuzzParseSigned signs whatever header and claims it is given with the
// HMAC key, so that the inputs get past the signature to every check of
// the header's and the claims' JSON, and compares parse with golang-jwt.
func FuzzParseSigned(f *testing.F) {
	exp := strconv.FormatInt(t0.Add(time.Hour).Unix(), 10)
	for _, h := range []string{`{"alg":"HS256","typ":"JWT"}`, `{"alg":"HS512"}`, `{"alg":"HS\u00326","kid":1}`, `{"alg":"none"}`, `null`, `{"alg":"HS256","x":[1e400]}`} {
		for _, c := range []string{`{"sub":"u1","exp":` + exp + `,"aud":"fanout","iss":"https://issuer"}`, `{"sub":"u1","exp":` + exp + `,"nbf":` + exp + `}`, claimSeeds[0], claimSeeds[3]} {
			f.Add(h, c)
		}
	}
	v := newVerifier(f, Options{Algorithms: []string{"HS256", "HS384"}, Audience: "fanout", Issuer: "https://issuer", Leeway: 10 * time.Second})
	f.Fuzz(func(t *testing.T, header, claims string) {
		samePaths(t, v, hs256(header, claims))
	})
}

// BenchmarkParse compares parse with golang-jwt's ParseWithClaims on the
// token of BenchmarkVerify.
func BenchmarkParse(b *testing.B) {
	v, tok := benchToken(b)
	for _, p := range []struct {
		name  string
		parse func(string, *claims) error
	}{{"handwritten", v.parse}, {"golang-jwt", v.parseJWT}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var c claims
				if err := p.parse(tok, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCriticalHeaderRefused: a token whose header lists "crit" is refused
// however well it is signed (RFC 7515 §4.1.11: this verifier understands
// no extension), on both parse paths; golang-jwt alone accepts it.
func TestCriticalHeaderRefused(t *testing.T) {
	v := newVerifier(t, Options{Key: testKey, Now: func() time.Time { return t0 }})
	exp := strconv.FormatInt(t0.Add(time.Hour).Unix(), 10)
	claimsJSON := `{"sub":"u1","exp":` + exp + `}`
	for name, hdr := range map[string]string{
		"a list":  `{"alg":"HS256","crit":["exp"]}`,
		"empty":   `{"alg":"HS256","crit":[]}`,
		"escaped": `{"alg":"HS256","\u0063rit":["b64"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			token := hs256(hdr, claimsJSON)
			if _, err := v.Verify(token); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "crit") {
				t.Errorf("Verify: %v, want ErrInvalidToken naming crit", err)
			}
			var ref claims
			if err := v.parseJWT(token, &ref); !errors.Is(err, jwt.ErrTokenUnverifiable) {
				t.Errorf("parseJWT: %v, want the same refusal", err)
			}
			if _, err := jwt.ParseWithClaims(token, &claims{}, func(*jwt.Token) (any, error) { return testKey, nil },
				jwt.WithTimeFunc(func() time.Time { return t0 })); err != nil {
				t.Errorf("golang-jwt alone refused it too (%v): the test no longer shows the difference", err)
			}
		})
	}
}
