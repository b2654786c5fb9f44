package jwtauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/golang-jwt/jwt/v5"
)

// MinKeyBytes is the shortest HMAC key accepted (RFC 7518 §3.2: a key of the
// hash's size, 256 bits for HS256).
const MinKeyBytes = 32

// MaxLeeway is the largest Options.Leeway New accepts: clock skew, not a
// grace period.
const MaxLeeway = time.Minute

// Options configure a Verifier.
type Options struct {
	// Algorithms are the JWS "alg" values accepted. Default ["HS256"].
	// Supported: HS256, HS384, HS512, RS256, RS384, RS512, PS256, ES256,
	// ES384, EdDSA. HMAC algorithms need Key; the others need PublicKeyFile
	// or JWKSFile.
	Algorithms []string
	// Key is the HMAC secret; at least MinKeyBytes. Ignored when Algorithms
	// holds no HMAC algorithm. Exclusive with Keys.
	Key []byte
	// Keys are the HMAC verification secrets of a rotation, newest first
	// (the first is the one tokens are being signed with); a token verifies
	// if any key whose NotAfter has not passed verifies it. Each at least
	// MinKeyBytes. Exclusive with Key.
	Keys []HMACKey
	// PublicKeyFile is a PEM file holding one public key (RSA, ECDSA P-256 or
	// P-384, Ed25519) as a "PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE"
	// block. It is re-read when it changes. Exclusive with JWKSFile.
	PublicKeyFile string
	// JWKSFile is a JSON Web Key Set; a token's "kid" selects its key. It is
	// re-read when it changes. Exclusive with PublicKeyFile.
	JWKSFile string
	// Remote is a JWKS fetched from an identity provider's URL; the
	// caller creates it (NewRemoteJWKS), may share it between successive
	// Verifiers, and closes it. Exclusive with PublicKeyFile and JWKSFile.
	Remote *RemoteJWKS
	// Audience, when set, must be one of the token's "aud" values.
	Audience string
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// MaxTokenBytes caps the token length. Default 4096.
	MaxTokenBytes int
	// Leeway tolerated on exp/nbf/iat for clock skew: 0 (default) to MaxLeeway.
	Leeway time.Duration
	// Now is the clock, also for the key file's reload throttle; nil means
	// time.Now.
	Now func() time.Time
	// OnReloadError, if set, receives the error of a key file that changed
	// but could not be loaded; the old keys stay in use. It is called from
	// Verify's goroutine, once per bad version of the file.
	OnReloadError func(error)
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	keys []HMACKey
	// macs verify the HMAC algorithms' signatures, key by key: index
	// algorithm (in algs) * len(keys) + key.
	macs []macPool
	bufs sync.Pool // parse's scratch buffers (*[]byte)
	// claimsPool holds verify's claims (*claims), empty.
	claimsPool sync.Pool
	max        int
	leeway     time.Duration
	parser     *jwt.Parser // golang-jwt's parse: the remote JWKS's, and tests' reference
	src        *keySource  // nil when only HMAC is allowed
	remote     *RemoteJWKS
	algs       []string
	// methods and families are algs' golang-jwt signing methods and our
	// algorithms, index for index.
	methods  []jwt.SigningMethod
	families []algorithm
	// validator is the parser's claim checks, for parse (the same
	// options, so the same checks).
	validator *jwt.Validator
	now       func() time.Time
}

// HMACKey is one HMAC verification secret of Options.Keys.
type HMACKey struct {
	Secret []byte
	// NotAfter, when not zero, is when the key stops verifying: a token
	// signed with it is refused from then on, whatever its exp.
	NotAfter time.Time
}

// New returns a Verifier. It refuses unknown algorithms, a missing or short
// HMAC key when an HMAC algorithm is allowed, a missing or unusable key file
// when an asymmetric one is, and a leeway over MaxLeeway. Key files are read
// here.
func New(o Options) (*Verifier, error) {
	algs, hmac, asym, err := checkAlgorithms(o)
	if err != nil {
		return nil, err
	}
	keys, err := hmacKeys(o, hmac)
	if err != nil {
		return nil, err
	}
	if o.Leeway < 0 || o.Leeway > MaxLeeway {
		return nil, fmt.Errorf("jwtauth: %w: %v, want 0 to %v", ErrLeeway, o.Leeway, MaxLeeway)
	}
	if o.MaxTokenBytes <= 0 {
		o.MaxTokenBytes = 4096
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	v := &Verifier{max: o.MaxTokenBytes, leeway: o.Leeway, now: o.Now}
	if hmac {
		v.keys = keys
	}
	v.algs, v.remote = algs, o.Remote
	for _, name := range algs {
		m := jwt.GetSigningMethod(name)
		if m == nil || m.Alg() != name {
			return nil, fmt.Errorf("jwtauth: %w %q: not registered in golang-jwt", ErrBadAlgorithm, name)
		}
		a, _ := lookupAlgorithm(name)
		v.methods, v.families = append(v.methods, m), append(v.families, a)
	}
	v.macs = newMACPools(v.methods, v.keys)
	if asym && o.Remote == nil {
		if v.src, err = newKeySource(o, algs); err != nil {
			return nil, err
		}
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		// An iat in the future (beyond the leeway) is a clock or an
		// issuer gone wrong; golang-jwt checks it only when asked.
		jwt.WithIssuedAt(),
		jwt.WithLeeway(o.Leeway),
		// One token, one spelling: lenient base64 would also accept the
		// signature with other unused low bits.
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(o.Now),
	}
	if o.Audience != "" {
		popts = append(popts, jwt.WithAudience(o.Audience))
	}
	if o.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(o.Issuer))
	}
	v.parser = jwt.NewParser(popts...)
	v.validator = jwt.NewValidator(popts...)
	return v, nil
}

// checkAlgorithms validates o.Algorithms and the key files they need, and
// reports which families are allowed.
func checkAlgorithms(o Options) (algs []string, hmac, asym bool, err error) {
	algs = slices.Clone(o.Algorithms)
	if len(algs) == 0 {
		algs = []string{"HS256"}
	}
	for _, name := range algs {
		a, ok := lookupAlgorithm(name)
		if !ok {
			return nil, false, false, fmt.Errorf("jwtauth: %w %q", ErrBadAlgorithm, name)
		}
		hmac = hmac || a.family == familyHMAC
		asym = asym || a.family != familyHMAC
	}
	files := o.PublicKeyFile != "" || o.JWKSFile != "" || o.Remote != nil
	switch {
	case o.PublicKeyFile != "" && o.JWKSFile != "", o.Remote != nil && (o.PublicKeyFile != "" || o.JWKSFile != ""):
		return nil, false, false, fmt.Errorf("jwtauth: %w: set one of PublicKeyFile, JWKSFile or Remote", ErrKeyFile)
	case asym && !files:
		return nil, false, false, fmt.Errorf("jwtauth: %w: %q need PublicKeyFile, JWKSFile or Remote", ErrNoKey, algs)
	case files && !asym:
		// A key file nothing would use is a configuration mistake: likely
		// the asymmetric algorithms were left out.
		return nil, false, false, fmt.Errorf("jwtauth: %w: a key file is set but Algorithms %q has no asymmetric algorithm", ErrBadAlgorithm, algs)
	}
	return algs, hmac, asym, nil
}

// hmacKeys checks and copies Options.Key or Options.Keys.
func hmacKeys(o Options, hmac bool) ([]HMACKey, error) {
	keys := o.Keys
	switch {
	case len(o.Key) > 0 && len(o.Keys) > 0:
		return nil, fmt.Errorf("jwtauth: %w: set Key or Keys, not both", ErrShortKey)
	case len(o.Key) > 0:
		keys = []HMACKey{{Secret: o.Key}}
	case hmac && len(keys) == 0:
		return nil, fmt.Errorf("jwtauth: %w (got 0)", ErrShortKey)
	}
	out := make([]HMACKey, len(keys))
	for i, k := range keys {
		if len(k.Secret) < MinKeyBytes {
			return nil, fmt.Errorf("jwtauth: %w (key %d: got %d)", ErrShortKey, i, len(k.Secret))
		}
		out[i] = HMACKey{Secret: append([]byte(nil), k.Secret...), NotAfter: k.NotAfter}
	}
	return out, nil
}

func newKeySource(o Options, algs []string) (*keySource, error) {
	s := &keySource{path: o.PublicKeyFile, now: o.Now, onError: o.OnReloadError}
	s.parse = func(b []byte) (*keySet, error) { return parsePEM(b, algs) }
	if o.JWKSFile != "" {
		s.path = o.JWKSFile
		s.parse = func(b []byte) (*keySet, error) { return parseJWKS(b, algs) }
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the key file now (for SIGHUP). On error the old keys stay
// in use. Without a key file it does nothing.
func (v *Verifier) Reload() error {
	if v.src == nil {
		return nil
	}
	return v.src.reload()
}

// Verify checks token and returns who it names and until when. Errors
// never include the token itself.
func (v *Verifier) Verify(token string) (daemon.Identity, error) {
	return v.verify(token, false)
}

// verify is Verify, parsing with golang-jwt's parser when viaJWT (the
// reference the tests compare parse with) and with parse otherwise.
func (v *Verifier) verify(token string, viaJWT bool) (daemon.Identity, error) {
	switch {
	case token == "":
		return daemon.Identity{}, ErrNoToken
	case len(token) > v.max:
		return daemon.Identity{}, ErrTokenTooLong
	case strings.ContainsAny(token, "\r\n"):
		// base64 decoding skips line breaks, even when strict.
		return daemon.Identity{}, fmt.Errorf("%w: line break in token", ErrInvalidToken)
	}
	// The claims escape (golang-jwt's Validator takes them as an
	// interface), so they come from a pool rather than the heap each
	// time; the identity keeps their strings and slices, never them.
	c := v.claims()
	defer v.putClaims(c)
	var err error
	if viaJWT {
		var cj claims // escapes into golang-jwt
		err = v.parseJWT(token, &cj)
		*c = cj
	} else {
		err = v.parse(token, c)
	}
	switch {
	case errors.Is(err, ErrUnknownKey):
		return daemon.Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrUnknownKey)
	case errors.Is(err, jwt.ErrTokenExpired):
		return daemon.Identity{}, ErrExpired
	case err != nil:
		return daemon.Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	case c.Subject == "":
		return daemon.Identity{}, fmt.Errorf("%w: missing sub", ErrInvalidToken)
	}
	if string(c.Info) == "null" {
		c.Info = nil
	}
	// exp is required, so ExpiresAt is set: the connection lasts as long
	// as a new handshake with this token would succeed.
	return daemon.Identity{Subject: c.Subject, TokenID: c.ID, Channels: c.Channels, Expires: c.ExpiresAt.Add(v.leeway), Info: c.Info}, nil
}

// claims returns empty claims from v.claimsPool, for verify.
func (v *Verifier) claims() *claims {
	if c, _ := v.claimsPool.Get().(*claims); c != nil {
		return c
	}
	return new(claims)
}

// putClaims empties c, so that the pool keeps nothing of the token alive,
// and gives it back.
func (v *Verifier) putClaims(c *claims) {
	*c = claims{}
	v.claimsPool.Put(c)
}

// hmacKeyFor returns the HMAC keys in force now: one key, or a
// jwt.VerificationKeySet that golang-jwt tries in order (newest first, the
// one most tokens are signed with). Never an empty key: it verifies
// anything.
func (v *Verifier) hmacKeyFor() (any, error) {
	now := v.now()
	var set jwt.VerificationKeySet
	for _, k := range v.keys {
		if k.inForce(now) {
			set.Keys = append(set.Keys, k.Secret)
		}
	}
	switch len(set.Keys) {
	case 0:
		return nil, ErrNoKey
	case 1:
		return set.Keys[0], nil
	}
	return set, nil
}

// HMACFingerprints identifies the HMAC keys (a short hash of each, and its
// NotAfter), so that a reload can tell whether a rotation happened without
// comparing or logging secrets.
func (v *Verifier) HMACFingerprints() []string {
	out := make([]string, len(v.keys))
	for i, k := range v.keys {
		sum := sha256.Sum256(k.Secret)
		out[i] = hex.EncodeToString(sum[:8]) + "/" + k.NotAfter.UTC().Format(time.RFC3339)
	}
	return out
}

// keyFor is the jwt.Keyfunc. The parser has already checked that the
// token's alg is allowed; keyFor returns a key only of that alg's family,
// so an HS256 token can never be checked against public key bytes.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	name := t.Method.Alg()
	alg, ok := lookupAlgorithm(name)
	switch {
	case !ok:
		return nil, ErrBadAlgorithm
	case alg.family == familyHMAC:
		return v.hmacKeyFor()
	case v.remote != nil:
		return v.remoteKeyFor(t, name, alg)
	}
	kid, hasKid := t.Header["kid"]
	kidStr, isString := kid.(string)
	return v.fileKeyFor(name, alg, kidStr, hasKid, isString)
}

// fileKeyFor is keyFor's answer for an asymmetric algorithm from the key
// file, given the token's "kid" header: kid when isString, present or not
// (hasKid).
func (v *Verifier) fileKeyFor(name string, alg algorithm, kid string, hasKid, isString bool) (any, error) {
	switch {
	case v.src == nil:
		return nil, ErrNoKey
	case hasKid && !isString:
		return nil, ErrUnknownKey
	}
	k, err := v.src.current().lookup(kid, hasKid)
	switch {
	case err != nil:
		return nil, err
	case k.alg != "" && k.alg != name:
		return nil, fmt.Errorf("key is for %s, token is %s", k.alg, name)
	case !alg.fits(k.key):
		return nil, fmt.Errorf("the %s cannot verify %s", keyKind(k.key), name)
	}
	return k.key, nil
}

// remoteKeyFor applies the confusion defence to what the remote set
// returns (keyfunc has checked the JWK's alg against the token's): only
// keys of the token's family, on its curve, are handed to golang-jwt.
func (v *Verifier) remoteKeyFor(t *jwt.Token, name string, alg algorithm) (any, error) {
	got, err := v.remote.lookup(t)
	if err != nil {
		return nil, err
	}
	if set, ok := got.(jwt.VerificationKeySet); ok {
		var fit jwt.VerificationKeySet
		for _, k := range set.Keys {
			if alg.fits(k) {
				fit.Keys = append(fit.Keys, k)
			}
		}
		if len(fit.Keys) == 0 {
			return nil, ErrUnknownKey
		}
		return fit, nil
	}
	if !alg.fits(got) {
		return nil, fmt.Errorf("the %s cannot verify %s", keyKind(got), name)
	}
	return got, nil
}
