package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Defaults of RemoteOptions.
const (
	DefaultJWKSRefresh = 15 * time.Minute
	defaultJWKSTimeout = 10 * time.Second
	// minMissRefetch is the shortest gap between two fetches caused by
	// unknown kids: a flood of tokens with made-up kids must not become a
	// flood of requests to the identity provider.
	minMissRefetch = 10 * time.Second
)

// RemoteOptions configure a RemoteJWKS.
type RemoteOptions struct {
	// URL is the JWKS address; https only.
	URL string
	// Client fetches it; nil means a client with the system's roots. Tests
	// and private CAs inject theirs (config auth.jwks_ca_file).
	Client *http.Client
	// Refresh is the period of the background fetch. Default
	// DefaultJWKSRefresh.
	Refresh time.Duration
	// MissRefetch is the shortest gap between two fetches caused by a
	// token whose kid is unknown (a key the provider just added). Default
	// Refresh/10, at least 10 s.
	MissRefetch time.Duration
	// Timeout bounds each fetch. Default 10 s.
	Timeout time.Duration
	// OnError, if set, receives each failed fetch; the last good keys stay
	// in use. Called from the refresh goroutine or from Verify's.
	OnError func(error)
}

// RemoteJWKS is a JSON Web Key Set fetched over HTTPS, kept by
// github.com/MicahParks/jwkset and looked up by github.com/MicahParks/keyfunc:
// fetched once by NewRemoteJWKS (an error if that fails), again every
// Refresh by a goroutine, and when a token names a kid the set does not
// hold, at most once per MissRefetch (the Verify that gets the turn waits
// for that fetch, bounded by Timeout; the others are refused at once). A
// fetch that fails, or that brings a set with no usable key, a symmetric
// or a private key, keeps the previous keys. It is safe for concurrent use
// and may be shared by successive Verifiers (a reload); Close stops it.
type RemoteJWKS struct {
	url     string
	cancel  context.CancelFunc
	plain   keyfunc.Keyfunc // lookups that never fetch
	refetch keyfunc.Keyfunc // lookups that fetch on a miss
	miss    *rate.Limiter
	onError func(error)
}

// NewRemoteJWKS fetches the set once and starts the refresh goroutine.
func NewRemoteJWKS(o RemoteOptions) (*RemoteJWKS, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("jwtauth: %w: JWKS URL must be https://", ErrKeyFile)
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultJWKSRefresh
	}
	if o.MissRefetch <= 0 {
		o.MissRefetch = max(o.Refresh/10, minMissRefetch)
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultJWKSTimeout
	}
	client := o.Client
	if client == nil {
		client = &http.Client{}
	}
	// The body cap and no redirects to plain HTTP.
	c := *client
	c.Transport = cappedTransport{base: transportOf(client)}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" || len(via) >= 5 {
			return errors.New("JWKS redirect refused (not https, or too many)")
		}
		return nil
	}
	r := &RemoteJWKS{url: o.URL, miss: rate.NewLimiter(rate.Every(o.MissRefetch), 1), onError: o.OnError}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	store, err := jwkset.NewStorageFromHTTP(o.URL, jwkset.HTTPClientStorageOptions{
		Client:          &c,
		Ctx:             ctx,
		HTTPTimeout:     o.Timeout,
		RefreshInterval: o.Refresh,
		RefreshErrorHandler: func(_ context.Context, err error) {
			r.report(err)
		},
		Storage: &guardedStorage{Storage: jwkset.NewMemoryStorage()},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwtauth: %w: JWKS %s: %v", ErrKeyFile, o.URL, err)
	}
	if r.plain, err = r.keyfunc(ctx, store, nil, 0); err == nil {
		// The refetching lookup never waits for a token: r.miss decides
		// beforehand, without blocking, who fetches.
		r.refetch, err = r.keyfunc(ctx, store, rate.NewLimiter(rate.Inf, 1), o.Timeout)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwtauth: JWKS %s: %w", o.URL, err)
	}
	return r, nil
}

func (r *RemoteJWKS) keyfunc(ctx context.Context, store jwkset.Storage, lim *rate.Limiter, wait time.Duration) (keyfunc.Keyfunc, error) {
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{r.url: store},
		RefreshUnknownKID: lim,
		RateLimitWaitMax:  wait, // also the fetch's deadline
	})
	if err != nil {
		return nil, err
	}
	return keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: client})
}

// Close stops the refresh goroutine. Verifiers that use r keep its last
// keys.
func (r *RemoteJWKS) Close() { r.cancel() }

// URL is the address the set is fetched from.
func (r *RemoteJWKS) URL() string { return r.url }

func (r *RemoteJWKS) report(err error) {
	if r.onError != nil {
		r.onError(fmt.Errorf("jwtauth: JWKS %s: %w (keeping the previous keys)", r.url, err))
	}
}

// lookup returns the key(s) for t: one key for a token with a kid (the
// set fetched again on a miss, rate-limited), or a jwt.VerificationKeySet
// of the keys whose alg allows t's for one without.
func (r *RemoteJWKS) lookup(t *jwt.Token) (any, error) {
	key, err := r.plain.Keyfunc(t)
	if errors.Is(err, jwkset.ErrKeyNotFound) && r.miss.Allow() {
		key, err = r.refetch.Keyfunc(t)
	}
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		return nil, ErrUnknownKey
	}
	return key, err
}

// guardedStorage is the in-memory set with the replacement guarded: a
// fetched set with no signing key, or with a symmetric or private key,
// is refused (the fetch fails, the old keys stay), and encryption keys are
// left out.
type guardedStorage struct{ jwkset.Storage }

func (g *guardedStorage) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	keep := given[:0:0]
	for _, k := range given {
		m := k.Marshal()
		switch k.Key().(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return errors.New("the JWKS holds a private key: refused")
		}
		switch {
		case m.KTY == jwkset.KtyOct:
			return errors.New(`the JWKS holds a symmetric ("oct") key: refused`)
		case m.USE == jwkset.UseEnc:
			continue
		}
		if rk, ok := k.Key().(*rsa.PublicKey); ok && rk.N.BitLen() < MinRSABits {
			continue
		}
		keep = append(keep, k)
	}
	if len(keep) == 0 {
		return errors.New("the JWKS holds no signing key")
	}
	return g.Storage.KeyReplaceAll(ctx, keep)
}

// maxJWKSBytes caps a fetched set, as maxKeyFileBytes caps a file.
const maxJWKSBytes = maxKeyFileBytes

// cappedTransport cuts a response body off past maxJWKSBytes, so a
// misbehaving endpoint cannot fill memory.
type cappedTransport struct{ base http.RoundTripper }

func (c cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err == nil {
		resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxJWKSBytes + 1}
	}
	return resp, err
}

type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	if b.left -= int64(n); b.left <= 0 {
		return n, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	return n, err
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}
