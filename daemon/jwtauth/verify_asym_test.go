package jwtauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var allAlgorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

func TestVerifyEachAlgorithm(t *testing.T) {
	k := asymKeys()
	tests := []struct {
		name   string
		method jwt.SigningMethod
		priv   any // nil: HMAC with testKey
	}{
		{"HS256", jwt.SigningMethodHS256, nil},
		{"HS384", jwt.SigningMethodHS384, nil},
		{"HS512", jwt.SigningMethodHS512, nil},
		{"RS256", jwt.SigningMethodRS256, k.rsa},
		{"RS384", jwt.SigningMethodRS384, k.rsa},
		{"RS512", jwt.SigningMethodRS512, k.rsa},
		{"PS256", jwt.SigningMethodPS256, k.rsa},
		{"ES256", jwt.SigningMethodES256, k.p256},
		{"ES384", jwt.SigningMethodES384, k.p384},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed},
	}
	for _, tt := range tests {
		sources := []string{"pem", "jwks", "jwks with alg"}
		if tt.priv == nil {
			sources = []string{"secret"} // HMAC keys come from Options.Key, never a file
		}
		for _, source := range sources {
			t.Run(tt.name+"/"+source, func(t *testing.T) {
				o := Options{Algorithms: []string{tt.method.Alg()}}
				var signKey any = testKey
				if tt.priv != nil {
					signKey = tt.priv
					pub := public(tt.priv)
					switch source {
					case "pem":
						o.PublicKeyFile = writeFile(t, "key.pem", pemBytes(t, pub))
					case "jwks":
						o.JWKSFile = writeFile(t, "jwks.json", jwksBytes(t, jwkOf(t, "k1", "", pub)))
					default:
						o.JWKSFile = writeFile(t, "jwks.json", jwksBytes(t, jwkOf(t, "k1", tt.method.Alg(), pub)))
					}
				}
				v := newVerifier(t, o)
				id, err := v.Verify(signKid(t, tt.method, signKey, "k1", validClaims("u1")))
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Subject != "u1" || !slices.Equal(id.Channels, []string{"project:*"}) {
					t.Errorf("Verify = %+v", id)
				}
				// The same verifier refuses the token when only another
				// algorithm is allowed.
				o.Algorithms = []string{"HS256"}
				if tt.method.Alg() == "HS256" {
					o.Algorithms = []string{"HS512"}
				}
				if v2, err := New(o); err == nil {
					if _, err := v2.Verify(signKid(t, tt.method, signKey, "k1", validClaims("u1"))); !errors.Is(err, ErrInvalidToken) {
						t.Errorf("with %q allowed: %v, want %v", o.Algorithms, err, ErrInvalidToken)
					}
				}
			})
		}
	}
}

// checkRejected asserts a rejection with wantErr and no token in the error.
func checkRejected(t *testing.T, v *Verifier, token string, wantErr error) {
	t.Helper()
	id, err := v.Verify(token)
	if !errors.Is(err, wantErr) {
		t.Fatalf("Verify: %v, want %v", err, wantErr)
	}
	if id.Subject != "" || id.Channels != nil {
		t.Errorf("rejected token still produced %+v", id)
	}
	if len(token) >= 8 && strings.Contains(err.Error(), token) {
		t.Errorf("error %q contains the token", err)
	}
	if sig := token[strings.LastIndexByte(token, '.')+1:]; len(sig) >= 8 && strings.Contains(err.Error(), sig) {
		t.Errorf("error %q contains the token's signature", err)
	}
}

func TestVerifyWrongAlgorithmForKey(t *testing.T) {
	k := asymKeys()
	exp := strconv.FormatInt(t0.Add(time.Hour).Unix(), 10)
	rsaPEM := writeFile(t, "rsa.pem", pemBytes(t, public(k.rsa)))
	p256PEM := writeFile(t, "p256.pem", pemBytes(t, public(k.p256)))
	jwks := writeFile(t, "jwks.json", jwksBytes(t,
		jwkOf(t, "rs", "RS256", public(k.rsa)),
		jwkOf(t, "es", "ES256", public(k.p256)),
		jwkOf(t, "ed", "", public(k.ed)),
		jwkOf(t, "p384", "", public(k.p384)),
	))
	all := Options{Algorithms: allAlgorithms, JWKSFile: jwks}
	tests := []struct {
		name  string
		o     Options
		token string
	}{
		{"ES256 token against an RSA PEM", Options{Algorithms: []string{"RS256", "ES256"}, PublicKeyFile: rsaPEM},
			signKid(t, jwt.SigningMethodES256, k.p256, "", validClaims("u1"))},
		{"RS256 token against a P-256 PEM", Options{Algorithms: []string{"RS256", "ES256"}, PublicKeyFile: p256PEM},
			signKid(t, jwt.SigningMethodRS256, k.rsa, "", validClaims("u1"))},
		{"EdDSA token against an RSA PEM", Options{Algorithms: []string{"RS256", "EdDSA"}, PublicKeyFile: rsaPEM},
			signKid(t, jwt.SigningMethodEdDSA, k.ed, "", validClaims("u1"))},
		{"RS384 not allowed", Options{Algorithms: []string{"RS256"}, PublicKeyFile: rsaPEM},
			signKid(t, jwt.SigningMethodRS384, k.rsa, "", validClaims("u1"))},
		{"PS256 with a JWK pinned to RS256", all, signKid(t, jwt.SigningMethodPS256, k.rsa, "rs", validClaims("u1"))},
		{"RS512 with a JWK pinned to RS256", all, signKid(t, jwt.SigningMethodRS512, k.rsa, "rs", validClaims("u1"))},
		{"ES256 token naming the EdDSA key", all, signKid(t, jwt.SigningMethodES256, k.p256, "ed", validClaims("u1"))},
		{"ES384 token naming the P-256 key", all, signKid(t, jwt.SigningMethodES384, k.p384, "es", validClaims("u1"))},
		{"ES256 token naming the P-384 key", all, signKid(t, jwt.SigningMethodES256, k.p256, "p384", validClaims("u1"))},
		{"RS256 token signed by another key", all, signKid(t, jwt.SigningMethodRS256, k.rsa2, "rs", validClaims("u1"))},
		{"HS256 token to an asymmetric-only verifier", Options{Algorithms: []string{"RS256"}, PublicKeyFile: rsaPEM},
			sign(t, jwt.SigningMethodHS256, testKey, validClaims("u1"))},
		{"alg none", all, unsigned(`{"alg":"none","typ":"JWT","kid":"rs"}`, `{"sub":"u1","exp":`+exp+`}`)},
		{"alg none against a PEM", Options{Algorithms: []string{"RS256"}, PublicKeyFile: rsaPEM},
			unsigned(`{"alg":"none","typ":"JWT"}`, `{"sub":"u1","exp":`+exp+`}`)},
		{"RS256 unsigned", all, unsigned(`{"alg":"RS256","typ":"JWT","kid":"rs"}`, `{"sub":"u1","exp":`+exp+`}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRejected(t, newVerifier(t, tt.o), tt.token, ErrInvalidToken)
		})
	}
}

// The classic confusion: the attacker knows the RSA public key and signs an
// HS256 token with its PEM bytes as the HMAC secret, hoping the server hands
// the "key" it has to HMAC.
func TestVerifyAlgorithmConfusion(t *testing.T) {
	k := asymKeys()
	pemData := pemBytes(t, public(k.rsa))
	jwksData := jwksBytes(t, jwkOf(t, "rs", "", public(k.rsa)))
	tests := []struct {
		name   string
		o      Options
		secret []byte
	}{
		{"PEM bytes", Options{PublicKeyFile: writeFile(t, "rsa.pem", pemData)}, pemData},
		{"PEM bytes without the final newline", Options{PublicKeyFile: writeFile(t, "rsa.pem", pemData)}, pemData[:len(pemData)-1]},
		{"DER bytes", Options{PublicKeyFile: writeFile(t, "rsa.pem", pemData)}, func() []byte { b, _ := pem.Decode(pemData); return b.Bytes }()},
		{"JWKS bytes", Options{JWKSFile: writeFile(t, "jwks.json", jwksData)}, jwksData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Algorithms = []string{"HS256", "RS256"}
			tt.o.Key = otherKey
			v := newVerifier(t, tt.o)
			checkRejected(t, v, signKid(t, jwt.SigningMethodHS256, tt.secret, "rs", validClaims("admin")), ErrInvalidToken)
			// Both algorithms still work with their own keys.
			if _, err := v.Verify(signKid(t, jwt.SigningMethodRS256, k.rsa, "rs", validClaims("u1"))); err != nil {
				t.Errorf("RS256: %v", err)
			}
			if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, otherKey, validClaims("u1"))); err != nil {
				t.Errorf("HS256 with the real secret: %v", err)
			}
		})
	}
}

func TestVerifyKid(t *testing.T) {
	k := asymKeys()
	two := writeFile(t, "two.json", jwksBytes(t, jwkOf(t, "a", "", public(k.rsa)), jwkOf(t, "b", "", public(k.p256))))
	one := writeFile(t, "one.json", jwksBytes(t, jwkOf(t, "a", "", public(k.rsa))))
	algs := []string{"RS256", "ES256"}
	tests := []struct {
		name    string
		jwks    string
		token   string
		wantErr error // ErrUnknownKey comes wrapped in ErrInvalidToken
	}{
		{"two keys, kid a", two, signKid(t, jwt.SigningMethodRS256, k.rsa, "a", validClaims("u1")), nil},
		{"two keys, kid b", two, signKid(t, jwt.SigningMethodES256, k.p256, "b", validClaims("u1")), nil},
		{"two keys, kid a signed by b's key", two, signKid(t, jwt.SigningMethodES256, k.p256, "a", validClaims("u1")), ErrInvalidToken},
		{"two keys, unknown kid", two, signKid(t, jwt.SigningMethodRS256, k.rsa, "c", validClaims("u1")), ErrUnknownKey},
		{"two keys, no kid", two, signKid(t, jwt.SigningMethodRS256, k.rsa, "", validClaims("u1")), ErrUnknownKey},
		{"one key, no kid", one, signKid(t, jwt.SigningMethodRS256, k.rsa, "", validClaims("u1")), nil},
		{"one key, unknown kid", one, signKid(t, jwt.SigningMethodRS256, k.rsa, "z", validClaims("u1")), ErrUnknownKey},
		{"one key, empty kid", one, signKid(t, jwt.SigningMethodRS256, k.rsa, "", jwt.MapClaims{"sub": "u1", "exp": t0.Add(time.Hour).Unix()}), nil},
		{"kid not a string", two, func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, validClaims("u1"))
			tok.Header["kid"] = 1
			s, _ := tok.SignedString(k.rsa)
			return s
		}(), ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, Options{Algorithms: algs, JWKSFile: tt.jwks})
			if tt.wantErr == nil {
				if id, err := v.Verify(tt.token); err != nil || id.Subject != "u1" {
					t.Fatalf("Verify = %+v, %v", id, err)
				}
				return
			}
			checkRejected(t, v, tt.token, tt.wantErr)
			if !errors.Is(func() error { _, err := v.Verify(tt.token); return err }(), ErrInvalidToken) {
				t.Errorf("not an ErrInvalidToken")
			}
		})
	}
}

func TestVerifyAudienceIssuer(t *testing.T) {
	k := asymKeys()
	pemFile := writeFile(t, "rsa.pem", pemBytes(t, public(k.rsa)))
	tok := func(extra jwt.MapClaims) string {
		c := validClaims("u1")
		for name, val := range extra {
			c[name] = val
		}
		return signKid(t, jwt.SigningMethodRS256, k.rsa, "", c)
	}
	tests := []struct {
		name     string
		aud, iss string // Options
		claims   jwt.MapClaims
		wantErr  error
	}{
		{"not configured, absent", "", "", nil, nil},
		{"not configured, present", "", "", jwt.MapClaims{"aud": "other", "iss": "someone"}, nil},
		{"aud matches", "fanoutd", "", jwt.MapClaims{"aud": "fanoutd"}, nil},
		{"aud in a list", "fanoutd", "", jwt.MapClaims{"aud": []string{"api", "fanoutd"}}, nil},
		{"aud differs", "fanoutd", "", jwt.MapClaims{"aud": "api"}, ErrInvalidToken},
		{"aud absent", "fanoutd", "", nil, ErrInvalidToken},
		{"aud empty", "fanoutd", "", jwt.MapClaims{"aud": ""}, ErrInvalidToken},
		{"iss matches", "", "https://auth.example", jwt.MapClaims{"iss": "https://auth.example"}, nil},
		{"iss differs", "", "https://auth.example", jwt.MapClaims{"iss": "https://evil.example"}, ErrInvalidToken},
		{"iss absent", "", "https://auth.example", nil, ErrInvalidToken},
		{"both match", "fanoutd", "https://auth.example", jwt.MapClaims{"aud": "fanoutd", "iss": "https://auth.example"}, nil},
		{"both set, iss wrong", "fanoutd", "https://auth.example", jwt.MapClaims{"aud": "fanoutd", "iss": "x"}, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, Options{Algorithms: []string{"RS256"}, PublicKeyFile: pemFile, Audience: tt.aud, Issuer: tt.iss})
			token := tok(tt.claims)
			if tt.wantErr == nil {
				if _, err := v.Verify(token); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			checkRejected(t, v, token, tt.wantErr)
		})
	}
}

func TestVerifyAsymmetricClaimsAndLimits(t *testing.T) {
	k := asymKeys()
	v := newVerifier(t, Options{
		Algorithms: []string{"RS256", "ES256", "EdDSA"},
		JWKSFile: writeFile(t, "jwks.json", jwksBytes(t,
			jwkOf(t, "rs", "", public(k.rsa)), jwkOf(t, "es", "", public(k.p256)), jwkOf(t, "ed", "", public(k.ed)))),
	})
	type signer struct {
		method jwt.SigningMethod
		priv   any
		kid    string
	}
	for _, s := range []signer{{jwt.SigningMethodRS256, k.rsa, "rs"}, {jwt.SigningMethodES256, k.p256, "es"}, {jwt.SigningMethodEdDSA, k.ed, "ed"}} {
		tests := []struct {
			name    string
			claims  jwt.MapClaims
			wantErr error
		}{
			{"exp missing", jwt.MapClaims{"sub": "u1"}, ErrInvalidToken},
			{"exp zero", jwt.MapClaims{"sub": "u1", "exp": 0}, ErrExpired},
			{"expired", jwt.MapClaims{"sub": "u1", "exp": t0.Add(-time.Second).Unix()}, ErrExpired},
			{"sub missing", jwt.MapClaims{"exp": t0.Add(time.Hour).Unix()}, ErrInvalidToken},
		}
		for _, tt := range tests {
			t.Run(s.method.Alg()+"/"+tt.name, func(t *testing.T) {
				checkRejected(t, v, signKid(t, s.method, s.priv, s.kid, tt.claims), tt.wantErr)
			})
		}
	}
	t.Run("million dots", func(t *testing.T) {
		checkRejected(t, v, strings.Repeat(".", 1_000_000), ErrTokenTooLong)
	})
	t.Run("line break", func(t *testing.T) {
		tok := signKid(t, jwt.SigningMethodES256, k.p256, "es", validClaims("u1"))
		checkRejected(t, v, tok[:20]+"\r\n"+tok[20:], ErrInvalidToken)
	})
}

func TestNewOptions(t *testing.T) {
	k := asymKeys()
	rsaPEM := writeFile(t, "rsa.pem", pemBytes(t, public(k.rsa)))
	jwks := writeFile(t, "jwks.json", jwksBytes(t, jwkOf(t, "rs", "", public(k.rsa))))
	tests := []struct {
		name    string
		o       Options
		wantErr error
	}{
		{"defaults", Options{Key: testKey}, nil},
		{"alg none", Options{Key: testKey, Algorithms: []string{"none"}}, ErrBadAlgorithm},
		{"alg lower case", Options{Key: testKey, Algorithms: []string{"hs256"}}, ErrBadAlgorithm},
		{"alg ES512", Options{Algorithms: []string{"ES512"}, PublicKeyFile: rsaPEM}, ErrBadAlgorithm},
		{"RS256 without a key file", Options{Key: testKey, Algorithms: []string{"RS256"}}, ErrNoKey},
		{"RS256 with a PEM and no HMAC key", Options{Algorithms: []string{"RS256"}, PublicKeyFile: rsaPEM}, nil},
		{"RS256 with a JWKS", Options{Algorithms: []string{"RS256"}, JWKSFile: jwks}, nil},
		{"RS256 with a short unused key", Options{Key: testKey[:5], Algorithms: []string{"RS256"}, PublicKeyFile: rsaPEM}, ErrShortKey},
		{"RS256 with an unused key", Options{Key: testKey, Algorithms: []string{"RS256"}, PublicKeyFile: rsaPEM}, nil},
		{"HS256 and RS256 without Key", Options{Algorithms: []string{"HS256", "RS256"}, PublicKeyFile: rsaPEM}, ErrShortKey},
		{"both key files", Options{Algorithms: []string{"RS256"}, PublicKeyFile: rsaPEM, JWKSFile: jwks}, ErrKeyFile},
		{"key file but only HMAC allowed", Options{Key: testKey, PublicKeyFile: rsaPEM}, ErrBadAlgorithm},
		{"key file of the wrong type", Options{Algorithms: []string{"ES256"}, PublicKeyFile: rsaPEM}, ErrBadAlgorithm},
		{"missing PEM", Options{Algorithms: []string{"RS256"}, PublicKeyFile: rsaPEM + ".missing"}, ErrKeyFile},
		{"missing JWKS", Options{Algorithms: []string{"RS256"}, JWKSFile: jwks + ".missing"}, ErrKeyFile},
		{"leeway 60s", Options{Key: testKey, Leeway: 60 * time.Second}, nil},
		{"leeway 61s", Options{Key: testKey, Leeway: 61 * time.Second}, ErrLeeway},
		{"leeway an hour", Options{Key: testKey, Leeway: time.Hour}, ErrLeeway},
		{"leeway negative", Options{Key: testKey, Leeway: -time.Second}, ErrLeeway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.o)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: %v, want %v", err, tt.wantErr)
			}
			if (v == nil) != (err != nil) {
				t.Errorf("New = %v, %v: want a Verifier exactly when there is no error", v, err)
			}
		})
	}
}

func TestNewPublicKeyFile(t *testing.T) {
	k := asymKeys()
	rsaPEM := pemBytes(t, public(k.rsa))
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, public(k.p256), k.p256)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(k.rsa)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		token   string // verified when the file is accepted
		wantErr error
	}{
		{"PKIX RSA", rsaPEM, signKid(t, jwt.SigningMethodRS256, k.rsa, "", validClaims("u1")), nil},
		{"PKIX RSA with text around", append(append([]byte("the issuer's key:\n"), rsaPEM...), "end\n"...), signKid(t, jwt.SigningMethodPS256, k.rsa, "", validClaims("u1")), nil},
		{"PKCS1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}),
			signKid(t, jwt.SigningMethodRS256, k.rsa, "", validClaims("u1")), nil},
		{"PKIX P-256", pemBytes(t, public(k.p256)), signKid(t, jwt.SigningMethodES256, k.p256, "", validClaims("u1")), nil},
		{"PKIX P-384", pemBytes(t, public(k.p384)), signKid(t, jwt.SigningMethodES384, k.p384, "", validClaims("u1")), nil},
		{"PKIX Ed25519", pemBytes(t, public(k.ed)), signKid(t, jwt.SigningMethodEdDSA, k.ed, "any-kid", validClaims("u1")), nil},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), signKid(t, jwt.SigningMethodES256, k.p256, "", validClaims("u1")), nil},
		{"private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), "", ErrKeyFile},
		{"two keys", append(slices.Clone(rsaPEM), pemBytes(t, public(k.p256))...), "", ErrKeyFile},
		{"RSA 1024", pemBytes(t, &small.PublicKey), "", ErrKeyFile},
		{"empty", nil, "", ErrKeyFile},
		{"not PEM", []byte("hello"), "", ErrKeyFile},
		{"corrupt block", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), "", ErrKeyFile},
		{"other block", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte("junk")}), "", ErrKeyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(Options{Algorithms: allAlgorithms[3:], PublicKeyFile: writeFile(t, "key.pem", tt.data), Now: fixedClock(t0)})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if _, err := v.Verify(tt.token); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestNewJWKSFile(t *testing.T) {
	k := asymKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	with := func(m map[string]any, kv ...string) map[string]any {
		m = maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	rs := jwkOf(t, "rs", "", public(k.rsa))
	es := jwkOf(t, "es", "", public(k.p256))
	offCurve := with(es, "y", es["x"].(string))
	rsTok := signKid(t, jwt.SigningMethodRS256, k.rsa, "rs", validClaims("u1"))
	tests := []struct {
		name    string
		data    []byte
		token   string // verified when the file is accepted
		wantErr error
	}{
		{"RSA", jwksBytes(t, rs), rsTok, nil},
		{"RSA with padded base64", jwksBytes(t, with(rs, "e", "AQAB")), rsTok, nil},
		{"oct key refused", jwksBytes(t, rs, map[string]any{"kty": "oct", "kid": "h", "k": b64u(testKey)}), "", ErrKeyFile},
		{"oct key with alg refused", jwksBytes(t, map[string]any{"kty": "oct", "kid": "h", "alg": "HS256", "k": b64u(testKey)}), "", ErrKeyFile},
		{"private RSA refused", jwksBytes(t, with(rs, "d", "AQAB")), "", ErrKeyFile},
		{"alg not allowed", jwksBytes(t, rs, with(es, "alg", "ES384")), "", ErrKeyFile},
		{"alg unknown", jwksBytes(t, with(rs, "alg", "RS1")), "", ErrKeyFile},
		{"alg for another key type", jwksBytes(t, with(rs, "alg", "ES256")), "", ErrKeyFile},
		{"two keys with one kid", jwksBytes(t, rs, with(es, "kid", "rs")), "", ErrKeyFile},
		{"encryption key skipped", jwksBytes(t, rs, with(es, "use", "enc", "kid", "x")), rsTok, nil},
		{"unknown kty skipped", jwksBytes(t, rs, map[string]any{"kty": "AKP", "kid": "pq"}), rsTok, nil},
		{"P-521 skipped", jwksBytes(t, rs, with(es, "crv", "P-521")), rsTok, nil},
		{"only skipped keys", jwksBytes(t, with(rs, "use", "enc")), "", ErrKeyFile},
		{"no keys", jwksBytes(t), "", ErrKeyFile},
		{"not JSON", []byte("{"), "", ErrKeyFile},
		{"keys not a list", []byte(`{"keys":{}}`), "", ErrKeyFile},
		{"RSA 1024", jwksBytes(t, jwkOf(t, "s", "", &small.PublicKey)), "", ErrKeyFile},
		{"RSA exponent 1", jwksBytes(t, with(rs, "e", "AQ")), "", ErrKeyFile},
		{"RSA n missing", jwksBytes(t, with(rs, "n", "")), "", ErrKeyFile},
		{"RSA n not base64url", jwksBytes(t, with(rs, "n", "a+b/")), "", ErrKeyFile},
		{"EC point off the curve", jwksBytes(t, offCurve), "", ErrKeyFile},
		{"EC x short", jwksBytes(t, with(es, "x", b64u([]byte{1, 2, 3}))), "", ErrKeyFile},
		{"Ed25519 x short", jwksBytes(t, with(jwkOf(t, "ed", "", public(k.ed)), "x", b64u([]byte{1}))), "", ErrKeyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(Options{Algorithms: []string{"RS256", "ES256", "EdDSA"}, JWKSFile: writeFile(t, "jwks.json", tt.data), Now: fixedClock(t0)})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if _, err := v.Verify(tt.token); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}
