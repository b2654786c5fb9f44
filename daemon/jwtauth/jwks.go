package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// jwk is one JSON Web Key (RFC 7517), the members jwtauth reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"` // private: refused
	K   string `json:"k"` // symmetric: refused
}

// errSkip marks a JWK that is ignored rather than refused (RFC 7517 §5:
// keys of an unknown type, curve or use are skipped).
var errSkip = errors.New("skip")

// parseJWKS reads a JSON Web Key Set. A JWKS is public, so symmetric ("oct")
// and private keys in it are errors, not keys. Keys for encryption, of
// unknown types, or without an alg that no allowed algorithm can use are
// skipped; a key whose alg is not allowed is an error, as is a set left with
// no key or with two keys of one kid.
func parseJWKS(data []byte, algs []string) (*keySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: JWKS: %v", ErrKeyFile, err)
	}
	set := &keySet{byKid: make(map[string]*publicKey)}
	var keys []*publicKey
	for i, j := range doc.Keys {
		k, err := j.publicKey(algs)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: JWKS key %d (kid %q): %v", ErrKeyFile, i, j.Kid, err)
		}
		if j.Kid != "" {
			if _, dup := set.byKid[j.Kid]; dup {
				return nil, fmt.Errorf("%w: JWKS: two keys with kid %q", ErrKeyFile, j.Kid)
			}
			set.byKid[j.Kid] = k
		}
		keys = append(keys, k)
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("%w: JWKS holds no usable key for %q", ErrKeyFile, algs)
	case 1:
		set.only = keys[0]
	}
	return set, nil
}

func (j *jwk) publicKey(algs []string) (*publicKey, error) {
	switch {
	case j.Kty == "oct" || j.K != "":
		return nil, errors.New(`symmetric ("oct") key refused: a JWKS is public`)
	case j.D != "":
		return nil, errors.New("private key material (d) refused: a JWKS is public")
	case j.Use != "" && j.Use != "sig":
		return nil, errSkip
	}
	var alg algorithm
	if j.Alg != "" {
		a, ok := lookupAlgorithm(j.Alg)
		if !ok || !slices.Contains(algs, j.Alg) {
			return nil, fmt.Errorf("alg %q is not one of the allowed algorithms %q", j.Alg, algs)
		}
		alg = a
	}
	var key any
	var err error
	switch j.Kty {
	case "RSA":
		key, err = j.rsa()
	case "EC":
		key, err = j.ecdsa()
	case "OKP":
		key, err = j.ed25519()
	default:
		return nil, errSkip
	}
	switch {
	case err != nil:
		return nil, err
	case j.Alg != "" && !alg.fits(key):
		return nil, fmt.Errorf("alg %q does not fit the %s", j.Alg, keyKind(key))
	case j.Alg == "" && !fitsAny(algs, key):
		return nil, errSkip
	}
	return &publicKey{kid: j.Kid, alg: j.Alg, key: key}, nil
}

func (j *jwk) rsa() (*rsa.PublicKey, error) {
	n, err := b64("n", j.N)
	if err != nil {
		return nil, err
	}
	e, err := b64("e", j.E)
	if err != nil {
		return nil, err
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
	if len(e) > 4 {
		return nil, errors.New("RSA exponent too large")
	}
	for _, b := range e {
		key.E = key.E<<8 | int(b)
	}
	switch {
	case key.E < 3 || key.E%2 == 0:
		return nil, fmt.Errorf("bad RSA exponent %d", key.E)
	case key.N.BitLen() < MinRSABits:
		return nil, fmt.Errorf("RSA key of %d bits, want at least %d", key.N.BitLen(), MinRSABits)
	}
	return key, nil
}

func (j *jwk) ecdsa() (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch j.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	default:
		return nil, errSkip
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err := b64("x", j.X)
	if err != nil {
		return nil, err
	}
	y, err := b64("y", j.Y)
	if err != nil {
		return nil, err
	}
	// RFC 7518 §6.2.1.2: x and y are the full size of the curve's coordinates.
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("%s coordinates must be %d bytes", j.Crv, size)
	}
	// Checks that the point is on the curve.
	return ecdsa.ParseUncompressedPublicKey(curve, slices.Concat([]byte{4}, x, y))
}

func (j *jwk) ed25519() (ed25519.PublicKey, error) {
	if j.Crv != "Ed25519" {
		return nil, errSkip
	}
	x, err := b64("x", j.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("Ed25519 x must be %d bytes", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

// b64 decodes a base64url member, tolerating the padding some tools add.
func b64(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("missing %q", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%q is not base64url: %v", name, err)
	}
	return b, nil
}
