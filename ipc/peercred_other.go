//go:build !linux

package ipc

import (
	"errors"
	"net"
)

// unixPeerCred is unsupported off Linux: with no credentials an allowlist
// refuses every request, which is the safe failure.
func unixPeerCred(*net.UnixConn) (PeerCred, error) {
	return PeerCred{}, errors.New("ipc: peer credentials are only supported on Linux")
}
