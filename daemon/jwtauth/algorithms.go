package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
)

// MinRSABits is the smallest RSA modulus accepted from a key file.
const MinRSABits = 2048

// family groups algorithms by the key type that verifies them. The keyfunc
// hands a key only to its own family: this is the defence against algorithm
// confusion (an HS256 token "signed" with the bytes of a public key).
type family uint8

const (
	familyHMAC family = iota + 1
	familyRSA
	familyECDSA
	familyEdDSA
)

type algorithm struct {
	family family
	curve  string // ECDSA: the curve name the key must be on
}

// lookupAlgorithm returns the supported algorithm named name (a JWS "alg").
func lookupAlgorithm(name string) (algorithm, bool) {
	switch name {
	case "HS256", "HS384", "HS512":
		return algorithm{family: familyHMAC}, true
	case "RS256", "RS384", "RS512", "PS256":
		return algorithm{family: familyRSA}, true
	case "ES256":
		return algorithm{family: familyECDSA, curve: "P-256"}, true
	case "ES384":
		return algorithm{family: familyECDSA, curve: "P-384"}, true
	case "EdDSA":
		return algorithm{family: familyEdDSA}, true
	}
	return algorithm{}, false
}

// fits reports whether key is a public key that can verify a.
func (a algorithm) fits(key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return a.family == familyRSA
	case *ecdsa.PublicKey:
		return a.family == familyECDSA && k.Curve.Params().Name == a.curve
	case ed25519.PublicKey:
		return a.family == familyEdDSA && len(k) == ed25519.PublicKeySize
	}
	return false
}

// fitsAny reports whether some algorithm in algs can use key.
func fitsAny(algs []string, key any) bool {
	for _, name := range algs {
		if a, _ := lookupAlgorithm(name); a.fits(key) {
			return true
		}
	}
	return false
}
