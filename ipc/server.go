package ipc

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultMaxBodyBytes is the publish body limit used when
// Options.MaxBodyBytes is zero or negative.
const DefaultMaxBodyBytes int64 = 1 << 20

// Options configures NewHandler and NewTCPHandler. The zero value of each
// field is a documented default, applied once by the constructor.
type Options struct {
	// Publisher receives the events. Required: the constructors panic on nil
	// because a handler that can publish nothing is a wiring bug.
	Publisher Publisher

	// Directory serves GET /v1/channels, /v1/channels/{channel}/presence
	// and /v1/events; nil answers them 404.
	Directory Directory

	// Reloader serves POST /v1/reload on the Unix socket (never on TCP);
	// nil answers it 404.
	Reloader Reloader

	// OpenAPI is the API's description, served as is at GET
	// /v1/openapi.yaml (application/yaml); nil answers that route 404. The
	// composition root passes api.OpenAPI(); ipc does not import it.
	OpenAPI []byte

	// Mount serves every path the API itself does not, behind the same
	// authentication (peer allowlist on the Unix socket, bearer key on
	// TCP): the control plane's routes. nil answers them 404.
	Mount http.Handler

	// Logger is named "ipc"; nil means no logging.
	Logger *zap.Logger

	// MaxBodyBytes caps a publish request body; 0 (or less) means 1 MiB. It
	// also caps one NDJSON line.
	MaxBodyBytes int64

	// APIKey is the bearer token NewTCPHandler requires. NewHandler (Unix
	// socket) ignores it: access there is governed by file permissions.
	APIKey string

	// PeerUIDs and PeerGIDs, when either is non-empty, restrict NewHandler
	// to connections whose peer (per SO_PEERCRED, read by PeerCredContext)
	// has a uid in PeerUIDs or a primary gid in PeerGIDs; others, and
	// requests with no credentials in their context, get 403. Empty both:
	// no check. NewTCPHandler ignores them.
	PeerUIDs []int
	PeerGIDs []int
}

// NewHandler returns the API for the Unix socket: no authentication beyond
// the optional peer allowlist (Options.PeerUIDs, PeerGIDs), which needs the
// server's ConnContext to be PeerCredContext, as NewHTTPServer sets it. The
// composition root calls it once at start-up and serves it on the listener
// from ListenUnix; the handler is safe for concurrent requests.
func NewHandler(opts Options) http.Handler {
	a := newAPI(opts, "unix")
	return answerEarly(newPeerAuth(opts.PeerUIDs, opts.PeerGIDs, a.routes(), a.log))
}

// answerEarly lets an answer go out before a body of unknown length
// (chunked) has been read. net/http otherwise reads up to 256 KiB of an
// unread body before writing any answer, so a publish stream refused by
// the peer check, the key check or a 404/405 would get its answer only
// when the publisher gave up: the publisher waits for the answer before
// sending more, and the server waits for more before answering.
func answerEarly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength < 0 {
			_ = http.NewResponseController(w).EnableFullDuplex() // HTTP/2: full duplex already
		}
		h.ServeHTTP(w, r)
	})
}

// NewTCPHandler returns the API for a TCP listener. Every request must carry
// "Authorization: Bearer <APIKey>" or it is answered 401 before routing. With
// an empty APIKey every request is answered 404: the composition root is
// expected to mount the handler only when a key is configured, and a missing
// key must never mean an open port.
func NewTCPHandler(opts Options) http.Handler {
	if opts.APIKey == "" {
		namedLogger(opts.Logger).Warn("TCP handler has no API key; refusing every request")
		return answerEarly(http.HandlerFunc(notFound))
	}
	a := newAPI(opts, "tcp")
	return answerEarly(newBearerAuth(opts.APIKey, a.routes(), a.log))
}

// NewHTTPServer wraps h in an http.Server with timeouts suited to a local
// API, and routes the server's own error log to log (named "ipc.http", nil
// means no logging). Its ConnContext is PeerCredContext, which the peer
// allowlist of NewHandler relies on and which leaves TCP connections alone.
// The caller runs it with Serve on its listener and stops it with Shutdown.
func NewHTTPServer(h http.Handler, log *zap.Logger) *http.Server {
	l := namedLogger(log).Named("http")
	errLog, err := zap.NewStdLogAt(l, zap.WarnLevel)
	if err != nil {
		errLog = zap.NewStdLog(l)
	}
	// Publish streams last as long as their publishers: they learn of a
	// shutdown from this channel in their context (stopOnShutdown), since
	// Shutdown waits for active requests and cancels none.
	shutdown := make(chan struct{})
	var once sync.Once
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog,
		ConnContext:       PeerCredContext,
	}
	srv.BaseContext = func(ln net.Listener) context.Context {
		ctx := context.WithValue(context.Background(), shutdownKey{}, (<-chan struct{})(shutdown))
		if ul, ok := ln.(*UnixListener); ok {
			ul.enableFastPath(srv, ctx) // fastpath.go: before Serve's first Accept
		}
		return ctx
	}
	srv.RegisterOnShutdown(func() { once.Do(func() { close(shutdown) }) })
	return srv
}

func namedLogger(l *zap.Logger) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return l.Named("ipc")
}

func newAPI(opts Options, transport string) *api {
	if opts.Publisher == nil {
		panic("ipc: Options.Publisher is nil")
	}
	limit := opts.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	a := &api{
		pub:     opts.Publisher,
		dir:     opts.Directory,
		openapi: opts.OpenAPI,
		mount:   opts.Mount,
		log:     namedLogger(opts.Logger).With(zap.String("transport", transport)),
		limit:   limit,
		states:  newStatePool(),
	}
	if transport == "unix" {
		a.reloader = opts.Reloader
	}
	return a
}
