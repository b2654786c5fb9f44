package sse

import (
	"net/http"
	"sync"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
)

// Handler serves GET <sse.path>?channels=a,b: the WebSocket route's events
// as Server-Sent Events, for clients behind proxies that refuse WebSocket
// upgrades. A stream is admitted like an upgrade (Admitter: Origin, upgrade
// rate, per-address and per-user limits, token), is a daemon.Session like a
// WebSocket, and subscribes the channels of its URL, resuming from
// Last-Event-ID. Each stream holds its handler's goroutine: the route is a
// fallback, capped by Options.MaxStreams.
type Handler struct {
	node       *daemon.Node
	admit      Admitter
	heartbeat  time.Duration
	bound      int
	maxStreams int

	mu      sync.Mutex // guards streams and closed; Shutdown holds it while closing streams
	streams map[*stream]struct{}
	closed  bool
}

// New returns the route's handler; o.Node and o.Admitter are required.
func New(o Options) *Handler {
	o = o.withDefaults()
	return &Handler{node: o.Node, admit: o.Admitter, heartbeat: o.Heartbeat, bound: o.QueueBytes,
		maxStreams: o.MaxStreams, streams: map[*stream]struct{}{}}
}

// ServeHTTP answers CORS preflights, admits the request, and streams.
func (rt *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.cors(w, r)
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet:
	default:
		w.Header().Set("Allow", "GET, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	subs, err := rt.node.ConnectSubscriptions(r.URL.RawQuery, r.Header.Get("Last-Event-ID"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	st := newStream(w, rt.bound)
	if !rt.register(st) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many event streams", http.StatusServiceUnavailable)
		return
	}
	defer rt.unregister(st)
	id, release, err := rt.admit.AdmitStream(admissionRequest(r))
	if err != nil {
		refuse(w, err)
		return
	}
	defer release()
	rt.serve(w, r, st, id, subs)
}

// serve runs one admitted stream until it ends.
func (rt *Handler) serve(w http.ResponseWriter, r *http.Request, st *stream, id daemon.Identity,
	subs daemon.ConnectSubscriptions) {
	// The server's read and write timeouts suit requests, not a stream:
	// writes get their own deadline (writeTimeout).
	_ = st.rc.SetReadDeadline(time.Time{})
	_ = st.rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	sess := rt.node.ConnectWith(st, id, subs) // a refusal reaches the client as an unsubscribed event
	code := st.run(r.Context(), rt.heartbeat)
	sess.Closed(code)
}

// cors lets pages of an allowed Origin read the stream (the route is
// usually on another origin than the page). Credentialed CORS (the Origin
// echoed with Allow-Credentials) goes only to an Origin on the allowlist:
// echoing any Origin with credentials would let every site read a
// visitor's stream with the visitor's cookie. With no allowlist the answer
// is "*" without credentials: any page may read a stream it holds a token
// for (in the query, or the Authorization header), never on the strength
// of a cookie (a cookie token needs an allowlist: config validation).
func (rt *Handler) cors(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	h := w.Header()
	switch listed, open := rt.admit.CrossOrigin(o); {
	case listed:
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	case open:
		h.Set("Access-Control-Allow-Origin", "*")
	default:
		return
	}
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET")
		h.Set("Access-Control-Allow-Headers", "Authorization, Last-Event-ID, Cache-Control")
		h.Set("Access-Control-Max-Age", "600")
	}
}

// register counts a stream against Options.MaxStreams; false when the
// route is full or shut down.
func (rt *Handler) register(st *stream) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed || len(rt.streams) >= rt.maxStreams {
		return false
	}
	rt.streams[st] = struct{}{}
	return true
}

func (rt *Handler) unregister(st *stream) {
	rt.mu.Lock()
	delete(rt.streams, st)
	rt.mu.Unlock()
}

// Streams is the number of open streams (the daemon's sse_streams).
// Called from any goroutine.
func (rt *Handler) Streams() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.streams)
}

// Shutdown refuses new streams (503) and ends every open one with code,
// after what is queued for it. It does not wait for the handlers: the HTTP
// server's own shutdown does. Called from any goroutine; idempotent.
func (rt *Handler) Shutdown(code int, reason string) {
	rt.mu.Lock()
	rt.closed = true
	for st := range rt.streams {
		st.Close(code, reason)
	}
	rt.mu.Unlock()
}
