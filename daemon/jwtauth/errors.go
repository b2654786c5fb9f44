package jwtauth

import "errors"

// Errors returned by Verify. All but ErrNoToken and ErrTokenTooLong come
// wrapped with the parser's detail; check them with errors.Is. None of them
// ever carries the token.
var (
	// ErrNoToken: the request carried no token.
	ErrNoToken = errors.New("no token")
	// ErrTokenTooLong: the token is over Options.MaxTokenBytes; it was not parsed.
	ErrTokenTooLong = errors.New("token too long")
	// ErrInvalidToken: bad signature, algorithm, format, key, or claims.
	ErrInvalidToken = errors.New("invalid token")
	// ErrExpired: the token's exp has passed (exp 0 included).
	ErrExpired = errors.New("token expired")
	// ErrUnknownKey is wrapped in ErrInvalidToken when no key of the key
	// file matches the token: its kid is not in the JWKS, or it has no kid
	// and the JWKS holds more than one key.
	ErrUnknownKey = errors.New("unknown key")
)

// Errors returned by New, and by Reload and Options.OnReloadError for the
// key files.
var (
	// ErrShortKey is returned by New for an HMAC key under MinKeyBytes, or a
	// missing one when an HMAC algorithm is allowed.
	ErrShortKey = errors.New("HMAC key shorter than 32 bytes")
	// ErrBadAlgorithm is returned by New for an algorithm name it does not
	// support (e.g. "none"), or a key file that no allowed algorithm uses.
	ErrBadAlgorithm = errors.New("unsupported algorithm")
	// ErrNoKey is returned by New when an asymmetric algorithm is allowed but
	// neither PublicKeyFile nor JWKSFile is set.
	ErrNoKey = errors.New("no key for the allowed algorithms")
	// ErrKeyFile is returned when PublicKeyFile or JWKSFile cannot be read or
	// holds no usable key, or holds key material that must not be there
	// (a private key; a symmetric "oct" key in a JWKS).
	ErrKeyFile = errors.New("unusable key file")
	// ErrLeeway is returned by New for an Options.Leeway outside 0..MaxLeeway.
	ErrLeeway = errors.New("leeway out of range")
)
