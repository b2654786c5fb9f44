package jwtauth

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// publicKey is one verification key of a key file.
type publicKey struct {
	kid string
	alg string // the JWK's "alg"; "" allows every algorithm of the key's family
	key any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// keySet is the parsed content of a key file. It is immutable: a reload
// builds a new one.
type keySet struct {
	byKid map[string]*publicKey
	// only answers tokens without a kid: the sole key of a JWKS of one, or
	// the key of a PEM file (which answers every token, kid or not).
	only   *publicKey
	pemKey bool
}

// lookup returns the key for a token's kid (hasKid false: no kid header).
func (s *keySet) lookup(kid string, hasKid bool) (*publicKey, error) {
	if s.pemKey || (!hasKid && s.only != nil) {
		return s.only, nil
	}
	if k, ok := s.byKid[kid]; ok && hasKid {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// parsePEM reads a file holding exactly one public key: a "PUBLIC KEY"
// (PKIX), "RSA PUBLIC KEY" (PKCS #1) or "CERTIFICATE" block. The
// certificate's validity and chain are not checked: it only carries the key.
func parsePEM(data []byte, algs []string) (*keySet, error) {
	var keys []any
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		var key any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			if strings.Contains(block.Type, "PRIVATE") {
				return nil, fmt.Errorf("%w: a private key; give the public key only", ErrKeyFile)
			}
			return nil, fmt.Errorf("%w: unexpected PEM block %q", ErrKeyFile, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s block: %v", ErrKeyFile, block.Type, err)
		}
		keys = append(keys, key)
	}
	if len(keys) != 1 {
		return nil, fmt.Errorf("%w: want one PEM public key, found %d", ErrKeyFile, len(keys))
	}
	if err := checkKey(keys[0], algs); err != nil {
		return nil, err
	}
	return &keySet{only: &publicKey{key: keys[0]}, pemKey: true}, nil
}

// checkKey refuses weak RSA keys and keys no allowed algorithm can use.
func checkKey(key any, algs []string) error {
	if k, ok := key.(*rsa.PublicKey); ok && k.N.BitLen() < MinRSABits {
		return fmt.Errorf("%w: RSA key of %d bits, want at least %d", ErrKeyFile, k.N.BitLen(), MinRSABits)
	}
	if !fitsAny(algs, key) {
		return fmt.Errorf("%w: the %s fits none of the allowed algorithms %q", ErrBadAlgorithm, keyKind(key), algs)
	}
	return nil
}

func keyKind(key any) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return "RSA key"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name + " key"
	}
	return fmt.Sprintf("%T key", key)
}
