package jwtauth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/golang-jwt/jwt/v5"
)

// MinKeyBytes is the shortest HMAC key accepted (RFC 7518 §3.2: a key of the
// hash's size, 256 bits for HS256).
const MinKeyBytes = 32

// Errors returned by Verify, wrapped with the parser's detail.
var (
	// ErrNoToken: the request carried no token.
	ErrNoToken = errors.New("no token")
	// ErrTokenTooLong: the token is over Options.MaxTokenBytes; it was not parsed.
	ErrTokenTooLong = errors.New("token too long")
	// ErrInvalidToken: bad signature, algorithm, format, or claims.
	ErrInvalidToken = errors.New("invalid token")
	// ErrExpired: the token's exp has passed.
	ErrExpired = errors.New("token expired")
	// ErrShortKey is returned by New for a key under MinKeyBytes.
	ErrShortKey = errors.New("HMAC key shorter than 32 bytes")
)

// Options configure a Verifier.
type Options struct {
	// Key is the HS256 secret; at least MinKeyBytes.
	Key []byte
	// MaxTokenBytes caps the token length. Default 4096.
	MaxTokenBytes int
	// Leeway tolerated on exp/nbf/iat for clock skew. Default 0.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	key    []byte
	max    int
	parser *jwt.Parser
}

type claims struct {
	jwt.RegisteredClaims
	Channels []string `json:"channels"`
}

// New returns a Verifier, refusing a key shorter than MinKeyBytes.
func New(o Options) (*Verifier, error) {
	if len(o.Key) < MinKeyBytes {
		return nil, fmt.Errorf("jwtauth: %w (got %d)", ErrShortKey, len(o.Key))
	}
	if o.MaxTokenBytes <= 0 {
		o.MaxTokenBytes = 4096
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(o.Leeway),
		// One token, one spelling: lenient base64 would also accept the
		// signature with other unused low bits.
		jwt.WithStrictDecoding(),
	}
	if o.Now != nil {
		popts = append(popts, jwt.WithTimeFunc(o.Now))
	}
	return &Verifier{key: append([]byte(nil), o.Key...), max: o.MaxTokenBytes, parser: jwt.NewParser(popts...)}, nil
}

// Verify checks token and returns who it names. Errors never include the
// token itself.
func (v *Verifier) Verify(token string) (daemon.Identity, error) {
	switch {
	case token == "":
		return daemon.Identity{}, ErrNoToken
	case len(token) > v.max:
		return daemon.Identity{}, ErrTokenTooLong
	case strings.ContainsAny(token, "\r\n"):
		// base64 decoding skips line breaks, even when strict.
		return daemon.Identity{}, fmt.Errorf("%w: line break in token", ErrInvalidToken)
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.key, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return daemon.Identity{}, ErrExpired
	case err != nil:
		return daemon.Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	case c.Subject == "":
		return daemon.Identity{}, fmt.Errorf("%w: missing sub", ErrInvalidToken)
	}
	return daemon.Identity{Subject: c.Subject, Channels: c.Channels}, nil
}
