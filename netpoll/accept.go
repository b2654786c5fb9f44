package netpoll

import (
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	mepoll "github.com/mailru/easygo/netpoll"
)

// listenerFd returns the descriptor of a TCP listener, or -1 for listeners
// that have none (then Serve falls back to Accept). The descriptor stays
// valid while the listener is open; Shutdown stops acceptRaw before closing.
func listenerFd(ln net.Listener) int {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return -1
	}
	fd, err := RawFd(tl)
	if err != nil {
		return -1
	}
	return fd
}

// acceptRaw accepts with accept4 on the listener's descriptor instead of
// ln.Accept. An accepted socket then never becomes a net.Conn: no netFD, no
// address objects, no registration in Go's own poller (which would also be
// woken by every event on the socket). That is about half a KiB and two
// system calls less per connection. The listener sits in the transport's
// epoll set; its events wake this goroutine, which drains the backlog.
func (s *Server) acceptRaw(lfd int) error {
	// Linux copies a listener's TCP_NODELAY into each connection it
	// completes from then on: set once here, it saves a setsockopt per
	// connection. Those already waiting in the backlog were completed
	// before: the first drain sets it on each, later drains trust the
	// listener.
	inherit := syscall.SetsockoptInt(lfd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1) == nil
	nodelay := false
	wake := make(chan struct{}, 1)
	err := s.ep.Add(lfd, mepoll.EPOLLIN|mepoll.EPOLLET, func(mepoll.EpollEvent) {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	defer func() { _ = s.ep.Del(lfd) }()
	var backoff time.Duration
	for {
		quit, err := s.drainGated(lfd, nodelay)
		switch {
		case quit:
			return ErrServerClosed
		case err == nil:
			backoff = 0
			nodelay = inherit
		case isTemporary(err):
			var ok bool
			if backoff, ok = s.backOff(backoff, err); !ok {
				return ErrServerClosed
			}
			continue
		default:
			return err
		}
		select {
		case <-s.quitAccept:
			return ErrServerClosed
		case <-wake:
		}
	}
}

// drainGated drains the backlog once no freeze holds the gate (Freeze
// waits for a drain under way). A listener event seen while frozen left a
// token in the accept loop's wake channel, so the loop drains right after
// Resume: edge-triggered readiness is not lost. quit reports that
// accepting stopped meanwhile (Shutdown, Release): nothing is accepted.
func (s *Server) drainGated(lfd int, nodelay bool) (quit bool, err error) {
	s.gate.RLock()
	defer s.gate.RUnlock()
	select {
	case <-s.quitAccept:
		return true, nil
	default:
	}
	return false, s.drainBacklog(lfd, nodelay)
}

// drainBacklog accepts until the backlog is empty. nodelay: the listener
// has TCP_NODELAY, which the accepted sockets inherit.
func (s *Server) drainBacklog(lfd int, nodelay bool) error {
	for {
		nfd, peer, err := accept4(lfd)
		switch {
		case err == nil:
			s.admitRaw(nfd, peer, nodelay)
		case err == syscall.EAGAIN:
			return nil
		case err == syscall.EINTR || err == syscall.ECONNABORTED:
		default:
			return err
		}
	}
}

// admitRaw sets TCP_NODELAY unless the socket has it from its listener
// (Go's Accept sets it too; events are small and must not wait for Nagle)
// and admits the socket.
func (s *Server) admitRaw(fd int, peer netip.AddrPort, nodelay bool) {
	if !nodelay {
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	c := &Conn{srv: s, fd: int32(fd)}
	c.setRemote(peer)
	s.admit(c)
}

// accept4 is syscall.Accept4 (non-blocking, close-on-exec) without the
// Sockaddr it allocates for every connection: the peer's address is read
// from the raw address on the stack, as addrPort reads it from a
// *syscall.SockaddrInet4 or 6. A TCP listener accepts nothing else; an
// address of another family is the zero AddrPort, as addrPort gives.
func accept4(lfd int) (int, netip.AddrPort, error) {
	var rsa syscall.RawSockaddrAny
	n := uint32(syscall.SizeofSockaddrAny)
	fd, _, e := syscall.Syscall6(syscall.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)),
		syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, e
	}
	return int(fd), rawAddrPort(&rsa), nil
}

// rawAddrPort decodes an IPv4 or IPv6 socket address (port in network
// byte order); the zone of a link-local IPv6 address is dropped, as
// addrPort drops it.
func rawAddrPort(rsa *syscall.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		a := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	case syscall.AF_INET6:
		a := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

func addrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}
