package ipc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// unixPeerCred reads SO_PEERCRED: the credentials the peer had when it
// called connect, which it cannot change afterwards.
func unixPeerCred(c *net.UnixConn) (PeerCred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return PeerCred{}, fmt.Errorf("ipc: peer credentials: %w", err)
	}
	var (
		ucred *unix.Ucred
		gerr  error
	)
	if err := raw.Control(func(fd uintptr) {
		ucred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return PeerCred{}, fmt.Errorf("ipc: peer credentials: %w", err)
	}
	if gerr != nil {
		return PeerCred{}, fmt.Errorf("ipc: peer credentials: %w", gerr)
	}
	return PeerCred{UID: int(ucred.Uid), GID: int(ucred.Gid), PID: int(ucred.Pid)}, nil
}
