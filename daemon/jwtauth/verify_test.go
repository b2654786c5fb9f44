package jwtauth

import (
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/golang-jwt/jwt/v5"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef") // MinKeyBytes
	otherKey = []byte("fedcba9876543210fedcba9876543210")
	// t0 is the fixed "now" of every verifier in these tests.
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newVerifier(t testing.TB, o Options) *Verifier {
	t.Helper()
	if o.Key == nil {
		o.Key = testKey
	}
	if o.Now == nil {
		o.Now = fixedClock(t0)
	}
	v, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// sign signs arbitrary claims, for tokens Mint cannot make.
func sign(t testing.TB, method jwt.SigningMethod, key []byte, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

func mint(t testing.TB, key []byte, sub string, channels []string, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := Mint(key, sub, channels, ttl, now)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

// unsigned builds a token by hand, header and claims as given, with an empty
// signature.
func unsigned(header, claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims)) + "."
}

// resign replaces a token's signature segment.
func resign(token, sig string) string {
	return token[:strings.LastIndexByte(token, '.')+1] + sig
}

// sigVariant returns the token with its signature's last character swapped
// for one that decodes to the same bytes under lenient base64 (the unused
// low bits differ).
func sigVariant(token string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := token[len(token)-1]
	return token[:len(token)-1] + string(alphabet[strings.IndexByte(alphabet, last)^1])
}

func TestVerify(t *testing.T) {
	exp := t0.Add(time.Hour).Unix()
	valid := mint(t, testKey, "u1", []string{"project:*", "user:{sub}"}, time.Hour, t0)
	validParts := strings.Split(valid, ".")
	other := mint(t, testKey, "admin", []string{"*"}, time.Hour, t0)

	tests := []struct {
		name    string
		token   string
		want    daemon.Identity
		wantErr error
	}{
		{name: "valid", token: valid,
			want: daemon.Identity{Subject: "u1", Channels: []string{"project:*", "user:{sub}"}}},
		{name: "valid without channels", token: mint(t, testKey, "u2", nil, time.Minute, t0),
			want: daemon.Identity{Subject: "u2"}},
		{name: "valid map claims", token: sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u3", "exp": exp, "channels": []string{"news"}, "extra": 1}),
			want: daemon.Identity{Subject: "u3", Channels: []string{"news"}}},

		{name: "expired", token: mint(t, testKey, "u1", nil, time.Hour, t0.Add(-2*time.Hour)), wantErr: ErrExpired},
		{name: "expired one second ago", token: mint(t, testKey, "u1", nil, time.Hour, t0.Add(-time.Hour-time.Second)), wantErr: ErrExpired},
		{name: "expires now", token: mint(t, testKey, "u1", nil, 0, t0), wantErr: ErrExpired},
		{name: "exp missing", token: sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1"}), wantErr: ErrInvalidToken},
		{name: "exp zero", token: sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1", "exp": 0}), wantErr: ErrExpired},
		{name: "exp not a number", token: sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1", "exp": "never"}), wantErr: ErrInvalidToken},
		{name: "not valid yet", token: sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1", "exp": exp, "nbf": t0.Add(time.Minute).Unix()}), wantErr: ErrInvalidToken},

		{name: "forged with other key", token: mint(t, otherKey, "u1", []string{"*"}, time.Hour, t0), wantErr: ErrInvalidToken},
		{name: "forged and expired", token: mint(t, otherKey, "u1", nil, time.Hour, t0.Add(-2*time.Hour)), wantErr: ErrInvalidToken},
		{name: "claims swapped under a valid signature", token: validParts[0] + "." + strings.Split(other, ".")[1] + "." + validParts[2], wantErr: ErrInvalidToken},
		{name: "signature removed", token: resign(valid, ""), wantErr: ErrInvalidToken},
		{name: "signature truncated", token: valid[:len(valid)-2], wantErr: ErrInvalidToken},
		{name: "signature not canonical base64", token: sigVariant(valid), wantErr: ErrInvalidToken},
		{name: "signature with newline", token: valid[:len(valid)-5] + "\n" + valid[len(valid)-5:], wantErr: ErrInvalidToken},
		{name: "signature with padding", token: valid + "=", wantErr: ErrInvalidToken},

		{name: "alg none", token: unsigned(`{"alg":"none","typ":"JWT"}`, `{"sub":"u1","exp":`+strconv.FormatInt(exp, 10)+`,"channels":["*"]}`), wantErr: ErrInvalidToken},
		{name: "alg None", token: unsigned(`{"alg":"None","typ":"JWT"}`, `{"sub":"u1","exp":`+strconv.FormatInt(exp, 10)+`}`), wantErr: ErrInvalidToken},
		{name: "alg HS256 unsigned", token: unsigned(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"u1","exp":`+strconv.FormatInt(exp, 10)+`}`), wantErr: ErrInvalidToken},
		{name: "no alg", token: unsigned(`{"typ":"JWT"}`, `{"sub":"u1","exp":`+strconv.FormatInt(exp, 10)+`}`), wantErr: ErrInvalidToken},
		{name: "HS384 same key", token: sign(t, jwt.SigningMethodHS384, testKey, jwt.MapClaims{"sub": "u1", "exp": exp}), wantErr: ErrInvalidToken},
		{name: "HS512 same key", token: sign(t, jwt.SigningMethodHS512, testKey, jwt.MapClaims{"sub": "u1", "exp": exp}), wantErr: ErrInvalidToken},

		{name: "sub missing", token: sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"exp": exp, "channels": []string{"*"}}), wantErr: ErrInvalidToken},
		{name: "sub empty", token: mint(t, testKey, "", []string{"*"}, time.Hour, t0), wantErr: ErrInvalidToken},
		{name: "sub not a string", token: sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": 42, "exp": exp}), wantErr: ErrInvalidToken},
		{name: "channels not a list", token: sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1", "exp": exp, "channels": "*"}), wantErr: ErrInvalidToken},

		{name: "empty", token: "", wantErr: ErrNoToken},
		{name: "one segment", token: "abcdefghijkl", wantErr: ErrInvalidToken},
		{name: "two segments", token: validParts[0] + "." + validParts[1], wantErr: ErrInvalidToken},
		{name: "four segments", token: valid + ".abc", wantErr: ErrInvalidToken},
		{name: "header not base64", token: "!!!!." + validParts[1] + "." + validParts[2], wantErr: ErrInvalidToken},
		{name: "header not JSON", token: base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + validParts[1] + "." + validParts[2], wantErr: ErrInvalidToken},
		{name: "bearer prefix left on", token: "Bearer " + valid, wantErr: ErrInvalidToken},
		{name: "many dots", token: strings.Repeat(".", 1_000_000), wantErr: ErrTokenTooLong},
		{name: "just over the cap", token: valid + strings.Repeat("A", 4097-len(valid)), wantErr: ErrTokenTooLong},
	}
	v := newVerifier(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(tt.token)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Subject != tt.want.Subject || !slices.Equal(id.Channels, tt.want.Channels) {
					t.Errorf("Verify = %+v, want %+v", id, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify: %v, want %v", err, tt.wantErr)
			}
			if id.Subject != "" || id.Channels != nil {
				t.Errorf("rejected token still produced %+v", id)
			}
			// Errors end up in logs; a token in a log is a credential leak.
			if len(tt.token) >= 8 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q contains the token", err)
			}
			if sig := tt.token[strings.LastIndexByte(tt.token, '.')+1:]; len(sig) >= 8 && strings.Contains(err.Error(), sig) {
				t.Errorf("error %q contains the token's signature", err)
			}
		})
	}
}

func TestVerifyMaxTokenBytes(t *testing.T) {
	token := mint(t, testKey, "u1", []string{"*"}, time.Hour, t0)
	tests := []struct {
		name    string
		max     int
		wantErr error
	}{
		{"default", 0, nil},
		{"exactly the cap", len(token), nil},
		{"one under the token", len(token) - 1, ErrTokenTooLong},
		{"tiny cap", 10, ErrTokenTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, Options{MaxTokenBytes: tt.max})
			if _, err := v.Verify(token); !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify: %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyClockAndLeeway(t *testing.T) {
	// Valid from t0 to t0+1h.
	token := mint(t, testKey, "u1", nil, time.Hour, t0)
	exp := t0.Add(time.Hour)
	tests := []struct {
		name    string
		now     time.Time
		leeway  time.Duration
		wantErr error
	}{
		{"at issue", t0, 0, nil},
		{"a second before exp", exp.Add(-time.Second), 0, nil},
		{"at exp", exp, 0, ErrExpired},
		{"a day after", exp.Add(24 * time.Hour), 0, ErrExpired},
		{"30s late within leeway", exp.Add(30 * time.Second), time.Minute, nil},
		{"30s late beyond leeway", exp.Add(30 * time.Second), 10 * time.Second, ErrExpired},
		{"2m late beyond leeway", exp.Add(2 * time.Minute), time.Minute, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, Options{Now: fixedClock(tt.now), Leeway: tt.leeway})
			id, err := v.Verify(token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify at %v (leeway %v): %v, want %v", tt.now, tt.leeway, err, tt.wantErr)
			}
			if err == nil && id.Subject != "u1" {
				t.Errorf("Subject = %q, want u1", id.Subject)
			}
		})
	}
}

func TestVerifyNotBeforeLeeway(t *testing.T) {
	token := sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{
		"sub": "u1", "exp": t0.Add(time.Hour).Unix(), "nbf": t0.Add(20 * time.Second).Unix(),
	})
	if _, err := newVerifier(t, Options{}).Verify(token); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("nbf 20s ahead without leeway: %v, want %v", err, ErrInvalidToken)
	}
	if _, err := newVerifier(t, Options{Leeway: 30 * time.Second}).Verify(token); err != nil {
		t.Errorf("nbf 20s ahead with 30s leeway: %v", err)
	}
}

func TestNewKeyLength(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		wantErr error
	}{
		{"nil", nil, ErrShortKey},
		{"empty", []byte{}, ErrShortKey},
		{"one byte", []byte{1}, ErrShortKey},
		{"31 bytes", testKey[:31], ErrShortKey},
		{"32 bytes", testKey, nil},
		{"64 bytes", append(slices.Clone(testKey), otherKey...), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(Options{Key: tt.key})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: %v, want %v", err, tt.wantErr)
			}
			if (v == nil) != (err != nil) {
				t.Errorf("New = %v, %v: want a Verifier exactly when there is no error", v, err)
			}
		})
	}
}

// The Verifier keeps its own copy of the key: a caller that reuses or
// zeroes its buffer does not change what verifies.
func TestNewCopiesKey(t *testing.T) {
	key := slices.Clone(testKey)
	v := newVerifier(t, Options{Key: key})
	token := mint(t, testKey, "u1", nil, time.Hour, t0)
	clear(key)
	if _, err := v.Verify(token); err != nil {
		t.Fatalf("Verify after the caller cleared its key: %v", err)
	}
	if _, err := v.Verify(mint(t, make([]byte, 32), "u1", nil, time.Hour, t0)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token signed with the zeroed buffer: %v, want %v", err, ErrInvalidToken)
	}
}

func TestMintClaims(t *testing.T) {
	token := mint(t, testKey, "u1", []string{"a"}, 90*time.Second, t0)
	var c claims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil {
		t.Fatal(err)
	}
	if c.Subject != "u1" || !c.ExpiresAt.Time.Equal(t0.Add(90*time.Second)) || !c.IssuedAt.Time.Equal(t0) ||
		!slices.Equal(c.Channels, []string{"a"}) {
		t.Errorf("claims = sub %q exp %v iat %v channels %q", c.Subject, c.ExpiresAt, c.IssuedAt, c.Channels)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if !strings.Contains(string(header), `"alg":"HS256"`) {
		t.Errorf("header = %s, want HS256", header)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := newVerifier(t, Options{})
	good := mint(t, testKey, "u1", []string{"*"}, time.Hour, t0)
	bad := mint(t, otherKey, "u1", []string{"*"}, time.Hour, t0)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if id, err := v.Verify(good); err != nil || id.Subject != "u1" {
					errs <- "good token: " + errString(err)
					return
				}
				if _, err := v.Verify(bad); !errors.Is(err, ErrInvalidToken) {
					errs <- "bad token: " + errString(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func FuzzVerify(f *testing.F) {
	valid := mint(f, testKey, "u1", []string{"project:*"}, time.Hour, t0)
	expired := mint(f, testKey, "u1", nil, time.Hour, t0.Add(-2*time.Hour))
	exp := strconv.FormatInt(t0.Add(time.Hour).Unix(), 10)
	k := asymKeys()
	rsValid := signKid(f, jwt.SigningMethodRS256, k.rsa, "rs", validClaims("u1"))
	esValid := signKid(f, jwt.SigningMethodES256, k.p256, "es", validClaims("u1"))
	for _, seed := range []string{
		valid,
		rsValid,
		esValid,
		signKid(f, jwt.SigningMethodRS256, k.rsa, "es", validClaims("u1")),
		signKid(f, jwt.SigningMethodHS256, pemBytes(f, public(k.rsa)), "rs", validClaims("u1")), // alg confusion
		expired,
		mint(f, otherKey, "u1", []string{"*"}, time.Hour, t0),
		sign(f, jwt.SigningMethodHS512, testKey, jwt.MapClaims{"sub": "u1", "exp": t0.Add(time.Hour).Unix()}),
		unsigned(`{"alg":"none","typ":"JWT"}`, `{"sub":"u1","exp":`+exp+`}`),
		unsigned(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"u1","exp":`+exp+`}`),
		sigVariant(valid),
		valid + "=",
		"",
		"garbage",
		"a.b.c",
		"..",
		strings.Repeat(".", 5000),
		"eyJhbGciOiJIUzI1NiJ9.e30.",
	} {
		f.Add(seed)
	}
	v := newVerifier(f, Options{
		Algorithms: []string{"HS256", "RS256", "ES256"},
		JWKSFile:   writeFile(f, "jwks.json", jwksBytes(f, jwkOf(f, "rs", "", public(k.rsa)), jwkOf(f, "es", "", public(k.p256)))),
	})
	// ECDSA signatures are malleable ((r, s) and (r, n-s) both verify), so an
	// ES256 token is identified by what it signs, not by its spelling.
	esSigned := esValid[:strings.LastIndexByte(esValid, '.')]
	f.Fuzz(func(t *testing.T, token string) {
		// The hand-written parse and golang-jwt's agree on every input.
		samePaths(t, v, token)
		id, err := v.Verify(token)
		if err == nil {
			// Only the key's holder can make a token that verifies, and a
			// token has one spelling: whatever is accepted was minted here.
			if token != valid && token != rsValid && !strings.HasPrefix(token, esSigned+".") {
				t.Fatalf("accepted %q, a token that was never minted", token)
			}
			if id.Subject != "u1" || !slices.Equal(id.Channels, []string{"project:*"}) {
				t.Fatalf("valid token gave %+v", id)
			}
			return
		}
		if id.Subject != "" || id.Channels != nil {
			t.Fatalf("rejected %q but returned %+v", token, id)
		}
		switch {
		case errors.Is(err, ErrExpired):
			// The signature is checked before the claims: only a token signed
			// with the key can be reported as expired.
			if token != expired {
				t.Fatalf("%q reported expired; only the minted expired token can be", token)
			}
		case errors.Is(err, ErrNoToken), errors.Is(err, ErrTokenTooLong), errors.Is(err, ErrInvalidToken):
		default:
			t.Fatalf("Verify(%q): %v is none of the documented errors", token, err)
		}
		// Short inputs can coincide with words of an error message; a
		// JWT-shaped one must not appear in it.
		if len(token) >= 24 && strings.Count(token, ".") == 2 && strings.Contains(err.Error(), token) {
			t.Fatalf("error %q contains the token", err)
		}
	})
}

// benchToken is the verifier and the typical token the benchmarks and
// the allocation tests check.
func benchToken(tb testing.TB) (*Verifier, string) {
	tb.Helper()
	key := []byte("0123456789abcdef0123456789abcdef")
	v, err := New(Options{Key: key})
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := Mint(key, "user-1", []string{"project:*", "user:{sub}"}, time.Hour, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return v, tok
}

func BenchmarkVerify(b *testing.B) {
	v, tok := benchToken(b)
	b.ReportAllocs()
	for range b.N {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkVerifyAsym(b *testing.B, method jwt.SigningMethod, priv any) {
	v, err := New(Options{
		Algorithms: []string{method.Alg()},
		JWKSFile:   writeFile(b, "jwks.json", jwksBytes(b, jwkOf(b, "k1", method.Alg(), public(priv)))),
	})
	if err != nil {
		b.Fatal(err)
	}
	tok := signKid(b, method, priv, "k1", jwt.MapClaims{
		"sub": "user-1", "channels": []string{"project:*", "user:{sub}"}, "exp": time.Now().Add(time.Hour).Unix(),
	})
	b.ReportAllocs()
	for range b.N {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRS256(b *testing.B) {
	benchmarkVerifyAsym(b, jwt.SigningMethodRS256, asymKeys().rsa)
}
func BenchmarkVerifyES256(b *testing.B) {
	benchmarkVerifyAsym(b, jwt.SigningMethodES256, asymKeys().p256)
}
