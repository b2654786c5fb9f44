package netpoll

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mepoll "github.com/mailru/easygo/netpoll"
	"go.uber.org/zap"
)

// Server is the epoll WebSocket transport. Create it with NewServer, feed it
// listeners with Serve, stop it with Shutdown.
type Server struct {
	opts Options // the reloadable limits are in live, not here
	live atomic.Pointer[Limits]
	log  *zap.Logger
	ep   *mepoll.Epoll
	runq runq
	// coalesce holds back the flushes of busy connections (FlushDelay).
	coalesce *coalescer
	stats    counters
	latency  latencyHist
	// netConns holds the net.Conn of each connection accepted through
	// net.Listener.Accept (admitConn: listeners without a raw descriptor),
	// by *Conn. It keeps the net.Conn from the collector, whose finalizer
	// would close the descriptor, without a field in every Conn: raw
	// accepts, the usual case, have none.
	netConns sync.Map
	// zones holds the IPv6 zone of a peer address that has one, by *Conn
	// (see peerAddr): rare, so not a field in every Conn.
	zones sync.Map
	start time.Time // origin of the nanosecond clock used for deadlines

	mu        sync.RWMutex
	conns     []*Conn // indexed by fd
	nconns    int
	nhttp     int                // handed to net/http, not closed yet: they count in MaxConns
	byIP      map[netip.Addr]int // sockets per client address, both kinds
	listeners []listener
	closing   bool // accepting stopped
	shutting  bool // ShutdownWith or Release began
	released  bool // Release ran: the connections belong to another process

	httpLn   *handoffListener // nil unless HTTPListener was called
	httpOnce sync.Once

	probe prober

	inflaters sync.Pool // *inflater, held for one compressed message at a time
	inbounds  sync.Pool // *inbound, held by a connection while its input is incomplete

	// gate is held for reading by every worker turn, sweep and backlog
	// drain, and for writing by Freeze (see freeze.go). freezeMu
	// serialises Freeze, Resume, Export and Release and guards frozen
	// and frozeAt.
	gate     sync.RWMutex
	freezeMu sync.Mutex
	frozen   bool
	frozeAt  int64 // Server.now() when the freeze began

	wg         sync.WaitGroup // workers and the sweeper
	acceptWG   sync.WaitGroup
	rawWG      sync.WaitGroup // the accept loops on raw descriptors (acceptRaw), which Release waits for
	quitAccept chan struct{}  // closed by Shutdown: accept loops return
	stop       chan struct{}
	done       atomic.Bool
}

// NewServer creates the epoll set and starts the worker pool and the sweeper:
// a constant number of goroutines, whatever the number of connections.
func NewServer(opts Options) (*Server, error) {
	if opts.Handler == nil {
		return nil, errors.New("netpoll: Options.Handler is required")
	}
	opts = opts.withDefaults()
	s := &Server{
		opts:       opts,
		log:        opts.Logger,
		runq:       newRunq(opts.MaxConns, opts.Workers),
		coalesce:   newCoalescer(opts.FlushDelay),
		start:      opts.Now(),
		quitAccept: make(chan struct{}),
		stop:       make(chan struct{}),
		byIP:       map[netip.Addr]int{},
	}
	s.live.Store(opts.limits())
	ep, err := mepoll.EpollCreate(&mepoll.EpollConfig{OnWaitError: func(err error) {
		s.log.Error("epoll wait failed", zap.Error(err))
	}})
	if err != nil {
		return nil, err
	}
	s.ep = ep
	for range opts.Workers {
		w := newWorker(s)
		s.wg.Go(w.loop)
	}
	s.wg.Go(s.sweep)
	return s, nil
}

// now is the server clock in nanoseconds since start: monotonic when the
// clock is time.Now.
func (s *Server) now() int64 { return int64(s.opts.Now().Sub(s.start)) }

// Serve accepts connections on ln until Shutdown or a permanent accept
// error. It blocks; run it in its own goroutine, one per listener.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	lfd := listenerFd(ln)
	s.listeners = append(s.listeners, listener{ln: ln, raw: lfd >= 0})
	s.acceptWG.Add(1)
	if lfd >= 0 {
		s.rawWG.Add(1)
	}
	s.mu.Unlock()
	defer s.acceptWG.Done()
	if lfd >= 0 {
		defer s.rawWG.Done()
		return s.acceptRaw(lfd)
	}
	return s.acceptLoop(ln)
}

// listener is a served listener; raw ones are accepted on by descriptor.
type listener struct {
	ln  net.Listener
	raw bool
}

func (s *Server) acceptLoop(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if !isTemporary(err) {
				return err
			}
			var ok bool
			if backoff, ok = s.backOff(backoff, err); !ok {
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		if !s.admitGated(nc) {
			return ErrServerClosed
		}
	}
}

// admitGated admits a connection that ln.Accept returned, once no freeze
// holds the gate. After Release it belongs to neither process (the
// listener could not be kept from accepting it): it is closed, and false
// tells the accept loop to return.
func (s *Server) admitGated(nc net.Conn) bool {
	s.gate.RLock()
	defer s.gate.RUnlock()
	select {
	case <-s.quitAccept:
		_ = nc.Close()
		return false
	default:
	}
	s.admitConn(nc)
	return true
}

// backOff waits after a temporary accept error (EMFILE and friends: wait
// for descriptors to free up rather than spin), doubling the delay from
// 5 ms to 1 s and logging once per step. It returns the delay used, and
// false when Shutdown began meanwhile.
func (s *Server) backOff(prev time.Duration, err error) (time.Duration, bool) {
	d := min(max(2*prev, 5*time.Millisecond), time.Second)
	s.log.Warn("accept failed; backing off", zap.Error(err), zap.Duration("backoff", d))
	select {
	case <-s.quitAccept:
		return d, false
	case <-time.After(d):
		return d, true
	}
}

func isTemporary(err error) bool {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno == syscall.EMFILE || errno == syscall.ENFILE || errno == syscall.ENOBUFS ||
			errno == syscall.ENOMEM || errno == syscall.ECONNABORTED || errno == syscall.EINTR
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// admitConn registers a connection accepted by a listener that gives no
// raw descriptor to accept on (see acceptRaw for the usual path).
func (s *Server) admitConn(nc net.Conn) {
	fd, err := rawFd(nc)
	if err != nil {
		s.log.Warn("accepted a connection without a file descriptor", zap.Error(err))
		_ = nc.Close()
		return
	}
	c := &Conn{srv: s, fd: int32(fd)}
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.setRemote(ta.AddrPort())
	}
	s.netConns.Store(c, nc)
	s.admit(c)
}

// netConn is the net.Conn c was accepted as (admitConn), nil for a socket
// accepted raw.
func (s *Server) netConn(c *Conn) net.Conn {
	if nc, ok := s.netConns.Load(c); ok {
		return nc.(net.Conn)
	}
	return nil
}

// admit registers a freshly accepted socket and starts its handshake. A
// connection over a limit is answered (503, or 429 for its address) with
// one non-blocking write (it fits an empty send buffer) and closed.
func (s *Server) admit(c *Conn) {
	c.deadline.Store(s.now() + int64(s.lim().HandshakeTimeout))
	if resp := s.register(c); resp != nil {
		_, _ = syscall.Write(c.Fd(), resp)
		c.closeSocket()
		return
	}
	err := s.ep.Add(c.Fd(), mepoll.EPOLLIN|mepoll.EPOLLOUT|mepoll.EPOLLRDHUP|mepoll.EPOLLET, c.onEvent)
	if err != nil {
		s.unregister(c)
		s.log.Warn("epoll add failed", zap.Error(err))
		c.closeSocket()
		return
	}
	c.schedule(pendRead)
}

// RawFd returns a socket's descriptor (a connection's or a listener's)
// without dup'ing it and without touching os.File, which would switch the
// socket to blocking mode. It stays valid while the socket is open.
func RawFd(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// rawFd is RawFd of a net.Conn.
func rawFd(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("netpoll: connection has no raw descriptor")
	}
	return RawFd(sc)
}

// register counts c against MaxConns (with the connections handed to
// net/http) and MaxConnsPerIP, and returns the response that refuses it, or
// nil once it is in. A connection over MaxConnsPerIP is let in marked
// overIP, without an address slot: its request is read (within the
// handshake deadline) and answered 429, because a response written before
// the request arrived would be lost to the reset that closing a socket
// with unread bytes sends.
func (s *Server) register(c *Conn) []byte {
	addr, perIP := c.addr(), s.lim().MaxConnsPerIP
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.nconns+s.nhttp >= s.opts.MaxConns {
		s.stats.rejectedFull.Add(1)
		return respServiceUnavailable
	}
	c.overIP = perIP > 0 && addr.IsValid() && s.byIP[addr] >= perIP
	for c.Fd() >= len(s.conns) {
		s.conns = append(s.conns, make([]*Conn, max(64, len(s.conns)))...)
	}
	s.conns[c.Fd()] = c
	s.nconns++
	if addr.IsValid() && !c.overIP {
		s.byIP[addr]++
	}
	return nil
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	if s.removeLocked(c) && !c.overIP {
		s.releaseAddrLocked(c.addr())
	}
	s.mu.Unlock()
}

// removeLocked takes c out of the registry; false when it was not in it.
func (s *Server) removeLocked(c *Conn) bool {
	if c.Fd() >= len(s.conns) || s.conns[c.Fd()] != c {
		return false
	}
	s.conns[c.Fd()] = nil
	s.nconns--
	return true
}

func (s *Server) releaseAddrLocked(addr netip.Addr) {
	if !addr.IsValid() {
		return
	}
	if s.byIP[addr] <= 1 {
		delete(s.byIP, addr) // the map stays as small as the addresses connected
		return
	}
	s.byIP[addr]--
}

// toHTTP moves c's slot from the registry to the count of connections held
// by net/http; false (and the slot given back) when those are at
// MaxHTTPConns.
func (s *Server) toHTTP(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(c)
	if s.nhttp >= s.opts.MaxHTTPConns {
		s.releaseAddrLocked(c.addr())
		return false
	}
	s.nhttp++
	return true
}

// releaseHTTP gives back the slot of a handed-off connection that net/http
// closed.
func (s *Server) releaseHTTP(addr netip.Addr) {
	s.mu.Lock()
	s.nhttp--
	s.releaseAddrLocked(addr)
	s.mu.Unlock()
}

// HTTPConns is the number of connections handed to net/http and not closed
// yet; they count against MaxConns with Conns.
func (s *Server) HTTPConns() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nhttp
}

// each calls f for every registered connection, under the registry's read
// lock: f must be quick and must not call back into the registry.
func (s *Server) each(f func(c *Conn)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.conns {
		if c != nil {
			f(c)
		}
	}
}

func (s *Server) isClosing() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closing
}

// Conns is the number of connections, handshakes included.
func (s *Server) Conns() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nconns
}

// Shutdown stops accepting, closes every connection with code (normally
// CloseGoingAway or CloseServiceRestart) and reason, waits until they are
// gone or ctx ends (then closes what is left abruptly), and stops the
// workers. It returns ctx.Err() when the deadline cut the closing short.
// It is ShutdownWith with every close at once.
func (s *Server) Shutdown(ctx context.Context, code int, reason string) error {
	return s.ShutdownWith(ctx, ShutdownOptions{Code: code, Reason: func() string { return reason }})
}

// ShutdownWith is Shutdown with the closes spread over a window (see
// ShutdownOptions): it stops accepting, sends every connection what was
// queued for it and then its close frame on the schedule, waits until the
// connections are gone or ctx ends (then closes what is left abruptly),
// and stops the workers. Connections that were still in their handshake
// are closed with the last ones.
func (s *Server) ShutdownWith(ctx context.Context, o ShutdownOptions) error {
	s.mu.Lock()
	shutting, released := s.shutting, s.released
	s.shutting = true
	s.mu.Unlock()
	if released {
		return nil // the connections live on in another process
	}
	if shutting {
		return ErrServerClosed
	}
	s.Resume() // a frozen transport would never finish its turns
	s.StopAccepting()
	o = o.withDefaults()
	s.closeSpread(ctx, o)
	// A handshake that was under way when the plan was made may have
	// become a connection since: Close is a no-op on the others.
	s.each(func(c *Conn) { c.Close(o.Code, o.Reason()) })
	err := s.waitEmpty(ctx)
	if err != nil {
		s.each(func(c *Conn) { c.schedule(pendKill) })
		_ = s.waitEmpty(context.Background())
	}
	s.stopLoops()
	return err
}

// stopLoops stops the coalescer's timer, the sweeper and the workers, then
// the epoll goroutine: the last step of Shutdown and Release, once no
// connection is left to serve.
func (s *Server) stopLoops() {
	s.coalesce.stop()
	close(s.stop)
	for range s.opts.Workers {
		s.runq <- nil
	}
	s.wg.Wait()
	_ = s.ep.Close()
	s.probe.close()
	s.done.Store(true)
}

// StopAccepting closes the listeners (and the HTTP hand-off listener)
// and returns once no accept loop runs: the first step of a drain, which
// the caller may take early to stop new clients while it finishes other
// work. The connections stay open. Safe from any goroutine; later calls
// return at once.
func (s *Server) StopAccepting() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	lns := s.listeners
	s.mu.Unlock()
	// Raw accept loops stop before their listener closes, so no accept4 can
	// run on a descriptor number that was reused; Accept-based loops need
	// the close to return.
	close(s.quitAccept)
	for _, l := range lns {
		if !l.raw {
			_ = l.ln.Close()
		}
	}
	s.acceptWG.Wait()
	for _, l := range lns {
		if l.raw {
			_ = l.ln.Close()
		}
	}
	if s.httpLn != nil {
		s.httpLn.shut()
	}
}

func (s *Server) waitEmpty(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.Conns() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

var respTooManyFromAddr = []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n" +
	"Content-Length: 39\r\nConnection: close\r\n\r\ntoo many connections from this address\n")

var respServiceUnavailable = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n" +
	"Content-Length: 21\r\nRetry-After: 5\r\nConnection: close\r\n\r\ntoo many connections\n")
