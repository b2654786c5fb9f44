package netpoll

import "errors"

// ErrServerClosed is returned by Serve after Shutdown, and by a second Shutdown.
var ErrServerClosed = errors.New("netpoll: server closed")

// ErrConnLimit is returned by Adopt when the connection would take the
// transport over Options.MaxConns; the descriptor was closed.
var ErrConnLimit = errors.New("netpoll: connection limit reached")

// ErrNotConn is returned (wrapping the system error, when there is one) by
// Adopt when the descriptor is not an open, connected stream socket.
var ErrNotConn = errors.New("netpoll: adopt: not a connected stream socket")
