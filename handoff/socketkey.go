package handoff

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// SocketKey names a socket by what the kernel says about it, so that the
// receiver matches descriptors to the image without relying on their
// order (the fd store does not keep it). A connected TCP socket is
// "tcp <local>-><peer>" (unique on a host: the 4-tuple); a listening
// socket is "listen tcp <local>" or "listen unix <path>". Anything else
// (a closed descriptor, a pipe, a UDP or connected Unix socket, whose
// peer name is not unique) is an error.
func SocketKey(fd int) (string, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return "", fmt.Errorf("handoff: socket key of descriptor %d: %w", fd, err)
	}
	if typ != unix.SOCK_STREAM {
		return "", fmt.Errorf("handoff: socket key of descriptor %d: not a stream socket (type %d)", fd, typ)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("handoff: socket key of descriptor %d: %w", fd, err)
	}
	if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && on == 1 {
		return listenKey(fd, local)
	}
	peer, err := unix.Getpeername(fd)
	if err != nil {
		return "", fmt.Errorf("handoff: socket key of descriptor %d: %w", fd, err)
	}
	l, lok := inetAddr(local)
	p, pok := inetAddr(peer)
	if !lok || !pok {
		return "", fmt.Errorf("handoff: socket key of descriptor %d: a connected socket that is not TCP", fd)
	}
	return ConnKey(l, p), nil
}

// ConnKey is SocketKey of a connected TCP socket whose two ends the caller
// knows already (the transport keeps them), without a system call:
// IPv4-mapped addresses are unmapped, as SocketKey reads them.
func ConnKey(local, peer netip.AddrPort) string {
	l := netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	p := netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	return "tcp " + l.String() + "->" + p.String()
}

func listenKey(fd int, local unix.Sockaddr) (string, error) {
	if a, ok := inetAddr(local); ok {
		return "listen tcp " + a.String(), nil
	}
	if u, ok := local.(*unix.SockaddrUnix); ok && u.Name != "" {
		return "listen unix " + u.Name, nil
	}
	return "", fmt.Errorf("handoff: socket key of descriptor %d: listening socket without a name", fd)
}

func inetAddr(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}
