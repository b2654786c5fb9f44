package sse

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/netpoll"
)

// Admitter decides on stream requests with the checks a WebSocket upgrade
// gets, under the settings in force (a reload changes them). The daemon's
// upgrader implements it (the root package, handshake_sse.go): the checks
// and their counters live in one place for both transports, so a user's
// WebSockets and streams count against one per-user limit.
type Admitter interface {
	// AdmitStream runs the checks on r: Origin, upgrade rate, connections
	// from the address, token, connections of the user. Called by
	// ServeHTTP on the request's goroutine, once per GET that passed the
	// route's own checks (parameters, Options.MaxStreams), before anything
	// is written. On success release frees the slots the stream holds; the
	// Handler calls it exactly once, on the same goroutine, when the stream
	// ends. A refusal is a *netpoll.HTTPError: its status, headers and
	// reason are the answer; any other error is answered 500.
	AdmitStream(r *netpoll.Request) (id daemon.Identity, release func(), err error)
	// CrossOrigin reports what the Origin allowlist in force says of
	// origin (never ""): listed, it is on the allowlist (credentialed
	// CORS); open, there is no allowlist ("*" without credentials).
	// Neither: no CORS headers. Called by ServeHTTP on the request's
	// goroutine, for preflights and GETs alike, before AdmitStream.
	CrossOrigin(origin string) (listed, open bool)
}

// admissionRequest is what the Admitter reads of an HTTP request.
func admissionRequest(r *http.Request) *netpoll.Request {
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
