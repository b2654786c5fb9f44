package netpoll

import (
	"fmt"
	"net"
	"net/http"
)

// Handler decides whether an upgrade request becomes a connection. It is
// implemented by the composition root, which joins the transport to the core.
type Handler interface {
	// Accept is called from a worker once the request head of an upgrade
	// request has been read, before the 101 response. It returns the
	// connection's Session, or an error: an *HTTPError rejects with its
	// status; any other error with 500. Frames Sent on c from inside Accept
	// are queued after the 101 response. Accept must not block on I/O.
	Accept(c *Conn, r *Request) (Session, error)
}

// Session receives one connection's messages. Its methods are called from a
// worker, never concurrently for the same connection.
type Session interface {
	// Message delivers one complete data message. payload is only valid
	// during the call. Text messages are valid UTF-8.
	Message(binary bool, payload []byte)
	// Closed is called once, after the socket was closed, with the close code
	// the server sent or received (CloseAbnormal when none).
	Closed(code int)
}

// Request is what Handler.Accept may look at. Strings are copies: they stay
// valid after Accept returns.
type Request struct {
	Path       string   // the request path, without the query
	RawQuery   string   // the query, without '?'; may carry a token: never log it
	Host       string   // the Host header
	Origin     string   // the Origin header, "" when absent
	Auth       string   // the Authorization header; never log it
	Cookie     string   // the Cookie header; never log it
	Protocols  []string // every subprotocol the client offered, in order
	RemoteAddr net.Addr
}

// HTTPError rejects an upgrade with an HTTP status and a short reason that is
// sent as the response body, plus optional response headers (such as
// WWW-Authenticate with a 401). Never put a token in Reason.
type HTTPError struct {
	Status int
	Reason string
	Header http.Header
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("netpoll: upgrade rejected: %d %s", e.Status, e.Reason)
}
