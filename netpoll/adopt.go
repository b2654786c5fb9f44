package netpoll

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	mepoll "github.com/mailru/easygo/netpoll"
	"golang.org/x/sys/unix"
)

// Adopt takes over a connection that another process (or another Server)
// exported: st.Fd must be a connected stream socket of this process, and
// Adopt owns it from the call on (on any error it is closed, unless it was
// not an open descriptor). Safe from any goroutine, before or after Serve.
//
// The socket is switched to non-blocking mode and joins the connections
// as an accepted one would: counted against MaxConns (ErrConnLimit beyond
// it) and MaxConnsPerIP, in Conns and Stats, pinged on a fresh jittered
// schedule. An open connection (st.Handshake false) is given its Session
// by bind, called once from Adopt's goroutine before any turn; frames
// Sent from inside bind are queued after st.Out, which is queued first as
// frames that are never dropped (a copy: the caller may drop its image).
// A bind error closes the socket and is returned; a
// handshake in progress is finished by Handler.Accept instead, and bind
// is not called. The connection's first turn feeds st.In through the
// normal read path, as if it had just been read, then reads the socket.
//
// Adopting into a frozen Server makes the hand-off two-phase: the adopted
// connections wait untouched (no read, no write) until Resume, and Release
// drops them without a trace if the hand-off is called off, so that the
// old process can Resume with nothing read or written twice.
func (s *Server) Adopt(st ConnState, bind func(c *Conn) (Session, error)) (*Conn, error) {
	fd := st.Fd
	remote := st.Remote
	if !st.Verified || !remote.IsValid() {
		peer, err := connectedStream(fd)
		if err != nil {
			if !errors.Is(err, syscall.EBADF) {
				_ = syscall.Close(fd)
			}
			return nil, err
		}
		if !remote.IsValid() {
			remote = addrPort(peer)
		}
	}
	if err := ensureNonblock(fd); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("netpoll: adopt: %w", err)
	}
	if !st.Verified {
		syscall.CloseOnExec(fd)
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	if len(st.Out) > 2*maxQueueBound { // more than a queue holds (see writeQueue)
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("netpoll: adopt: %d bytes of output, more than a write queue holds", len(st.Out))
	}
	c := s.adoptedConn(st, remote)
	if resp := s.register(c); resp != nil {
		_ = syscall.Close(fd)
		if s.isClosing() {
			return nil, ErrServerClosed
		}
		return nil, ErrConnLimit
	}
	if !st.Handshake {
		if err := s.bindAdopted(c, bind); err != nil {
			return nil, err
		}
	}
	events := mepoll.EpollEvent(mepoll.EPOLLIN | mepoll.EPOLLOUT | mepoll.EPOLLRDHUP | mepoll.EPOLLET)
	if err := s.ep.Add(fd, events, c.onEvent); err != nil {
		if !errors.Is(err, mepoll.ErrRegistered) {
			_ = s.ep.Del(fd) // easygo keeps the callback of a failed Add
		}
		s.abandon(c)
		if c.session != nil {
			c.session.Closed(CloseAbnormal)
		}
		return nil, fmt.Errorf("netpoll: adopt: epoll: %w", err)
	}
	s.stats.adopted.Add(1)
	// c has been marked queued since adoptedConn, so that nothing bind or
	// the sweeper scheduled could run it half made: it goes on the run
	// queue now, once, with everything pending, when it brought input or
	// output.
	if c.in == nil && c.QueuedBytes() == 0 {
		// Nothing brought to read or write: no turn until the socket has
		// something (registering reported what it already had, as an
		// event). Thousands of connections adopted at once then cost no
		// turn each ahead of the first events' writes.
		c.queued.Store(false)
		if c.pending.Load() != 0 && c.queued.CompareAndSwap(false, true) {
			s.runq <- c // an event or a Send came while it was marked queued
		}
		return c, nil
	}
	c.pending.Or(pendAdopt | pendRead | pendWrite)
	s.runq <- c
	return c, nil
}

// ensureNonblock sets O_NONBLOCK unless the descriptor has it (the flag
// belongs to the open file description, which a hand-off passes with its
// flags): one system call in the usual case.
func ensureNonblock(fd int) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if fl&unix.O_NONBLOCK != 0 {
		return nil
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_NONBLOCK)
	return err
}

// connectedStream checks that fd is an open, connected stream socket and
// returns its peer's address.
func connectedStream(fd int) (syscall.Sockaddr, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConn, err)
	}
	if typ != unix.SOCK_STREAM {
		return nil, fmt.Errorf("%w: socket type %d", ErrNotConn, typ)
	}
	peer, err := syscall.Getpeername(fd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConn, err)
	}
	return peer, nil
}

// adoptedConn builds the Conn of an adopted socket, marked queued (see
// Adopt), with st.Out queued and st.In kept for the first turn.
func (s *Server) adoptedConn(st ConnState, remote netip.AddrPort) *Conn {
	c := &Conn{srv: s, fd: int32(st.Fd), id: strings.Clone(st.ID)} // not into the caller's decoded image
	c.setRemote(remote)
	c.queued.Store(true)
	c.deflate.Store(st.Deflate)
	now := s.now()
	if st.Handshake {
		c.deadline.Store(now + int64(s.lim().HandshakeTimeout))
	} else {
		c.ping.Store(pingDue(now + jitter(int64(s.opts.PingInterval))))
		c.state.Store(stateOpen)
	}
	if len(st.Out) > 0 {
		c.q.push(entry{b: bytes.Clone(st.Out)})
	}
	if len(st.In) > 0 {
		// A copy: parsing unmasks in place.
		s.inboundFor(c).adopted = append([]byte(nil), st.In...)
	}
	return c
}

// bindAdopted asks bind for an open adopted connection's Session; on an
// error (or no session) the connection is dropped and its socket closed.
func (s *Server) bindAdopted(c *Conn, bind func(c *Conn) (Session, error)) error {
	if bind == nil {
		s.abandon(c)
		return errors.New("netpoll: adopt: no bind function for an open connection")
	}
	sess, err := bind(c)
	if err == nil && sess == nil {
		err = errors.New("netpoll: adopt: bind returned no session")
	}
	if err != nil {
		s.abandon(c)
		return err
	}
	c.session = sess
	return nil
}

// abandon undoes a registration that Adopt could not finish: no worker
// has run c, so closing here races with nothing.
func (s *Server) abandon(c *Conn) {
	c.state.Store(stateClosed)
	c.mu.Lock()
	c.dead = true
	c.q.reset()
	c.mu.Unlock()
	s.unregister(c)
	c.closeSocket()
}

// adopted runs in an adopted connection's first turn: it feeds the input
// the connection brought along through the read path, as if it had just
// been read. It returns false when the turn must not read the socket (the
// connection failed or stopped reading, or a handshake was refused).
func (w *worker) adopted(c *Conn) bool {
	if c.in == nil {
		return true
	}
	in := c.in.adopted
	c.in.adopted = nil
	if len(in) == 0 {
		return true
	}
	if c.state.Load() == stateHandshake {
		if !w.headBytes(c, in) {
			return true // still incomplete: read on
		}
		return c.state.Load() == stateOpen // upgraded: read the frames behind the head
	}
	ok := w.ingest(c, in)
	w.trackMessage(c)
	return ok && c.state.Load() == stateOpen
}
