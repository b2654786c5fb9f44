package netpoll

import "errors"

// ErrServerClosed is returned by Serve after Shutdown, and by a second Shutdown.
var ErrServerClosed = errors.New("netpoll: server closed")
