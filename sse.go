package fanoutd

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/netpoll"
)

// sseRoute serves GET <sse.path>?channels=a,b: the WebSocket route's
// events as Server-Sent Events, for clients behind proxies that refuse
// WebSocket upgrades. A stream is admitted like an upgrade (upgrader.admit:
// Origin, upgrade rate, per-address and per-user limits, token), is a
// daemon.Session like a WebSocket, and subscribes the channels of its URL,
// resuming from Last-Event-ID. Each stream holds its handler's goroutine:
// the route is a fallback, capped by sse.max_streams.
type sseRoute struct {
	up         *upgrader
	node       *daemon.Node
	heartbeat  time.Duration
	bound      int
	maxStreams int

	mu      sync.Mutex
	streams map[*sseStream]struct{}
	closed  bool
}

func newSSERoute(up *upgrader, node *daemon.Node, heartbeat time.Duration, bound, maxStreams int) *sseRoute {
	return &sseRoute{up: up, node: node, heartbeat: heartbeat, bound: bound,
		maxStreams: maxStreams, streams: map[*sseStream]struct{}{}}
}

// ServeHTTP answers CORS preflights, admits the request, and streams.
func (rt *sseRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	channels, since, err := sseParams(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	st := newSSEStream(w, rt.bound)
	if !rt.register(st) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many event streams", http.StatusServiceUnavailable)
		return
	}
	defer rt.unregister(st)
	req := sseRequest(r)
	id, addr, ls, err := rt.up.admit(req)
	if err != nil {
		refuse(w, err)
		return
	}
	defer rt.up.limits.release(ls, addr, id.Subject)
	rt.serve(w, r, st, id, channels, since)
}

// serve runs one admitted stream until it ends.
func (rt *sseRoute) serve(w http.ResponseWriter, r *http.Request, st *sseStream, id daemon.Identity,
	channels []string, since map[string]daemon.Position) {
	// The server's read and write timeouts suit requests, not a stream:
	// writes get their own deadline (sseWriteTimeout).
	_ = st.rc.SetReadDeadline(time.Time{})
	_ = st.rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	sess := rt.node.Connect(st, id)
	for _, ch := range channels {
		var pos *daemon.Position
		if p, ok := since[ch]; ok {
			pos = &p
		}
		_ = sess.Subscribe(ch, pos) // a refusal reaches the client as an unsubscribed event
	}
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
func (rt *sseRoute) cors(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	h := w.Header()
	switch policy := rt.up.cur.Load().origins; {
	case policy.listed(o):
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	case policy.empty():
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

// register counts a stream against sse.max_streams; false when the route
// is full or shut down.
func (rt *sseRoute) register(st *sseStream) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed || len(rt.streams) >= rt.maxStreams {
		return false
	}
	rt.streams[st] = struct{}{}
	return true
}

func (rt *sseRoute) unregister(st *sseStream) {
	rt.mu.Lock()
	delete(rt.streams, st)
	rt.mu.Unlock()
}

// count is the number of open streams.
func (rt *sseRoute) count() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.streams)
}

// shutdown refuses new streams and ends every open one with code, after
// what is queued for it.
func (rt *sseRoute) shutdown(code int, reason string) {
	rt.mu.Lock()
	rt.closed = true
	for st := range rt.streams {
		st.Close(code, reason)
	}
	rt.mu.Unlock()
}

// sseParams reads the channel list (comma-separated, duplicates dropped)
// and the positions to resume from: the Last-Event-ID header, which a
// browser's EventSource sends when it reconnects, or the last_event_id
// query parameter, for a client that opens a new EventSource.
func sseParams(r *http.Request) ([]string, map[string]daemon.Position, error) {
	q := r.URL.Query()
	var channels []string
	seen := map[string]bool{}
	for _, v := range q["channels"] {
		for _, ch := range strings.Split(v, ",") {
			if ch != "" && !seen[ch] {
				seen[ch] = true
				channels = append(channels, ch)
			}
		}
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("last_event_id")
	}
	since, err := parseLastEventID(last)
	return channels, since, err
}

// sseRequest is what admit reads of an HTTP request.
func sseRequest(r *http.Request) *netpoll.Request {
	var remote net.Addr = &net.TCPAddr{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	return &netpoll.Request{
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Host:       r.Host,
		Origin:     r.Header.Get("Origin"),
		Auth:       r.Header.Get("Authorization"),
		Cookie:     strings.Join(r.Header.Values("Cookie"), "; "),
		RemoteAddr: remote,
	}
}

// refuse answers a refused admission with its status, headers and reason.
func refuse(w http.ResponseWriter, err error) {
	var he *netpoll.HTTPError
	if !errors.As(err, &he) {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	for k, v := range he.Header {
		w.Header()[k] = v
	}
	http.Error(w, he.Reason, he.Status)
}
