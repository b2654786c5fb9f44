package netpoll

import (
	"net"
	"os"
	"sync"
	"syscall"

	"go.uber.org/zap"
)

// HTTPListener returns a listener that yields the connections whose request
// is not for Options.Path, with the bytes already read put back in front, so
// that an http.Server can serve other routes on the same port. Call it
// before Serve; without it such requests get 404.
func (s *Server) HTTPListener() net.Listener {
	s.httpOnce.Do(func() {
		s.httpLn = &handoffListener{ch: make(chan net.Conn, 128), done: make(chan struct{})}
	})
	return s.httpLn
}

// handoff takes c out of the epoll set and gives the socket to net/http as
// a net.Conn registered with Go's own poller, so deadlines and blocking
// reads work there as usual. A raw socket is converted with net.FileConn,
// which dups it: the transient second descriptor is closed at once.
//
// The connection keeps its slot in MaxConns and MaxConnsPerIP until net/http
// closes it; past MaxHTTPConns it is answered 503 and closed instead, which
// keeps the rest of the slots for upgrades (net/http's ReadHeaderTimeout
// and IdleTimeout bound how long an idle one holds its slot).
func (s *Server) handoff(c *Conn, prefix []byte) {
	c.state.Store(stateClosed)
	_ = s.ep.Del(c.Fd())
	if !s.toHTTP(c) {
		s.stats.rejectedFull.Add(1)
		_, _ = syscall.Write(c.Fd(), respServiceUnavailable)
		c.closeSocket()
		return
	}
	s.stats.handedOff.Add(1)
	addr := c.addr()
	c.forgetZone()
	var nc net.Conn
	if v, ok := s.netConns.LoadAndDelete(c); ok {
		nc = v.(net.Conn) // net/http's now
	} else {
		f := os.NewFile(uintptr(c.Fd()), "fanoutd-http")
		var err error
		nc, err = net.FileConn(f)
		_ = f.Close()
		if err != nil {
			s.releaseHTTP(addr)
			s.log.Warn("handing a connection to net/http failed", zap.Error(err))
			return
		}
	}
	pc := &prefixConn{Conn: nc, prefix: prefix, release: func() { s.releaseHTTP(addr) }}
	if !s.httpLn.offer(pc) {
		_ = pc.Close()
	}
}

type handoffListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func (l *handoffListener) offer(c net.Conn) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.ch <- c:
		return true
	default:
		return false // net/http is not keeping up: shed rather than block a worker
	}
}

// Accept implements net.Listener.
func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; Server.Shutdown also closes it.
func (l *handoffListener) Close() error {
	l.shut()
	return nil
}

func (l *handoffListener) shut() { l.once.Do(func() { close(l.done) }) }

// Addr implements net.Listener.
func (l *handoffListener) Addr() net.Addr {
	if l.addr != nil {
		return l.addr
	}
	return &net.TCPAddr{}
}

// prefixConn replays the request bytes the transport already read, and
// gives the connection's slot back when net/http closes it.
type prefixConn struct {
	net.Conn
	prefix  []byte
	release func()
	once    sync.Once
}

// Close implements net.Conn; the slot is given back once, whoever closes.
func (c *prefixConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
