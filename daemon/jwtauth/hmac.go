package jwtauth

import (
	"crypto"
	"crypto/hmac"
	"crypto/sha512"
	"hash"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// macPool verifies HS256, HS384 or HS512 signatures with one key, as
// jwt.SigningMethodHMAC.Verify does, with keyed hashes kept for reuse:
// golang-jwt keys a new hmac.New for every token (seven allocations, and
// the key's two padding blocks hashed again), copies the signing input
// and allocates the sum. A reused hash is Reset to its keyed state, which
// crypto/hmac restores from a saved copy instead of hashing the pads.
// Every handshake verifies a token, so this is on the connect path.
type macPool struct {
	hash crypto.Hash
	key  []byte
	pool sync.Pool // of *mac
}

// mac is a keyed hash and room for its sum.
type mac struct {
	h   hash.Hash
	sum [sha512.Size]byte
}

// verify reports whether sig is the HMAC of signing: nil, or the error
// golang-jwt's Verify returns (jwt.ErrSignatureInvalid, or
// jwt.ErrHashUnavailable for a hash not linked in). Safe for concurrent use.
func (p *macPool) verify(signing, sig []byte) error {
	if !p.hash.Available() {
		return jwt.ErrHashUnavailable
	}
	m, _ := p.pool.Get().(*mac)
	if m == nil {
		m = &mac{h: hmac.New(p.hash.New, p.key)}
	} else {
		m.h.Reset()
	}
	m.h.Write(signing)
	ok := hmac.Equal(sig, m.h.Sum(m.sum[:0]))
	p.pool.Put(m)
	if !ok {
		return jwt.ErrSignatureInvalid
	}
	return nil
}

// newMACPools returns the pools of every HMAC algorithm of methods and
// every key, indexed algorithm * len(keys) + key (Verifier.macs).
func newMACPools(methods []jwt.SigningMethod, keys []HMACKey) []macPool {
	pools := make([]macPool, len(methods)*len(keys))
	for a, m := range methods {
		hm, ok := m.(*jwt.SigningMethodHMAC)
		if !ok {
			continue
		}
		for i, k := range keys {
			p := &pools[a*len(keys)+i]
			p.hash, p.key = hm.Hash, k.Secret
		}
	}
	return pools
}
