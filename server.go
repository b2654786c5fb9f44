package fanoutd

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd/api"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/control"
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/ipc"
	"github.com/fanoutd/fanoutd/netpoll"
	"github.com/fanoutd/fanoutd/ops"
	"github.com/fanoutd/fanoutd/sse"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Server is one running fanoutd: listeners bound by New, served by Run.
type Server struct {
	cfg    config.Config                 // as New got it: what the restart-only keys stay at
	live   atomic.Pointer[config.Config] // the configuration in force (Reload)
	log    *zap.Logger
	level  *zap.AtomicLevel // Options.Level; nil: log_level needs a restart
	load   func() (config.Config, error)
	notify Notifier
	now    func() time.Time
	node   *daemon.Node
	ctl    *control.Plane // the control plane: disconnect, revoke, tap (controlplane.go)
	ws     *netpoll.Server
	up     *upgrader // admits WebSocket upgrades and SSE streams alike
	// compressor makes the one permessage-deflate frame of an event that
	// every connection which negotiated it gets; nil when
	// compression.negotiate is off.
	compressor *netpoll.Compressor
	auth       *liveAuth
	wsLn       net.Listener
	sockLn     net.Listener
	unix       *http.Server // the publish API on the Unix socket
	unixH      *swapHandler // its handler, rebuilt by a reload
	tcp        *http.Server // HTTP on the TCP listener (routes.go); nil when nothing is served there
	tcpH       *swapHandler // its routes, rebuilt by a reload
	sse        *sse.Handler // nil when sse.enabled is false
	httpLn     net.Listener // non-WebSocket requests handed over by the transport
	devKey     []byte
	// jwks is the auth.jwks_url set in use (nil: none), jwksID its
	// settings; changed by New and Reload under reloadMu.
	jwks   *jwtauth.RemoteJWKS
	jwksID string
	broker brokerLink // nil: the in-memory broker
	// brokerOK is the last end-to-end probe's verdict (watchBroker).
	brokerOK atomic.Bool

	reloadMu sync.Mutex       // one reload at a time
	reloads  [2]atomic.Uint64 // applied, refused
	serving  atomic.Bool      // Run serves the listeners
	draining atomic.Bool      // Shutdown began: not ready any more

	ops       *ops.Ops     // console, metrics, health, probe (operations.go)
	metricsLn net.Listener // metrics.listen; nil when unset
	metricsH  *swapHandler
	metricsS  *http.Server
	version   string
	started   time.Time

	shutOnce sync.Once
	shutErr  error

	// Hand-offs (handover.go): one at a time; handedOff is closed once the
	// new process serves, and Run then returns without draining. ownWS and
	// ownSocket say that New bound the listener (none was passed), so a
	// hand-off to the service manager's store must keep it too.
	handing     atomic.Bool
	handOffStat atomic.Pointer[HandOffStatus]
	// pausedSocket is the publish socket while a hand-off has its
	// listener closed (pauseAPI); only the hand-off's goroutine uses it.
	pausedSocket *os.File
	handedOff    chan struct{}
	fdstore      *FDStore
	onHandedOff  func() // Options.HandedOff
	ownWS        bool
	ownSocket    bool
}

// New validates the configuration, binds the listeners and prepares every
// component; nothing is served until Run. On error, whatever was bound is
// released.
func New(o Options) (*Server, error) {
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{cfg: cfg, log: log, level: o.Level, load: o.LoadConfig, notify: o.Notifier, now: o.Now,
		version: cmp.Or(o.Version, "dev"), handedOff: make(chan struct{}), fdstore: o.FDStore, onHandedOff: o.HandedOff}
	if s.now == nil {
		s.now = time.Now
	}
	if s.notify == nil {
		s.notify = noNotifier{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.started = s.now()
	s.live.Store(&cfg)
	v, jwks, err := s.verifier(cfg, o.DevKey, o.Now)
	if err != nil {
		return nil, err
	}
	s.adoptJWKS(jwks, cfg)
	s.auth = newLiveAuth(v)
	var startBroker func(*daemon.Node)
	if s.broker, startBroker, err = s.newBroker(); err != nil {
		s.closeJWKS()
		return nil, err
	}
	opts := daemon.Options{
		Logger:       log.Named("core"),
		Now:          o.Now,
		Frame:        netpoll.TextFrame,
		PingInterval: cfg.Heartbeat.Interval,
		Protocol:     protocol,
		Auth:         s.auth,
		Authorize:    o.Hooks.AuthorizeSubscribe,
		OnConnect:    o.Hooks.OnConnect,
		OnDisconnect: o.Hooks.OnDisconnect,
		Broker:       s.broker,
	}
	if cfg.Compression.Negotiate {
		s.compressor = netpoll.NewCompressor(cfg.Compression.Level)
		opts.Compress = s.compressFrame
	}
	opts.ApplySettings(nodeSettings(cfg)) // the reloadable part, as Reload builds it
	s.node = daemon.New(opts)
	if startBroker != nil {
		startBroker(s.node)
	}
	s.ops = s.newOps(o)
	s.ctl = s.newControl()
	s.auth.revoked = s.ctl.Revoked
	s.ws, err = netpoll.NewServer(s.transportOptions(o))
	if err != nil {
		s.closeBroker()
		s.closeJWKS()
		return nil, err
	}
	if cfg.SSE.Enabled {
		s.sse = sse.New(sse.Options{Node: s.node, Admitter: s.up, Heartbeat: cfg.SSE.Heartbeat,
			QueueBytes: cfg.Limits.WriteQueueBytes, MaxStreams: cfg.SSE.MaxStreams})
	}
	if err := s.bind(o); err != nil {
		_ = s.ws.Shutdown(context.Background(), netpoll.CloseGoingAway, "")
		s.closeBroker()
		s.closeJWKS()
		return nil, err
	}
	if p := cfg.Conformance.EchoPath; p != "" {
		log.Warn("conformance echo route is on: it answers anyone without a token; never in production",
			zap.String("echo_path", p))
	}
	return s, nil
}

// Check validates cfg as New does, reading the key files (HMAC secret
// file, PEM key or JWKS), without binding anything: `fanoutd check-config`.
func Check(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s := &Server{cfg: cfg, log: zap.NewNop()}
	_, jwks, err := s.verifier(cfg, nil, nil)
	if jwks != nil {
		jwks.Close()
	}
	return err
}

// verifier builds the token verifier from cfg, reading its key files and
// fetching auth.jwks_url when its settings changed; fresh is then the new
// JWKS, for the caller to adopt or close.
func (s *Server) verifier(cfg config.Config, devKey []byte, now func() time.Time) (v *jwtauth.Verifier, fresh *jwtauth.RemoteJWKS, err error) {
	keys, err := s.hmacKeys(cfg, devKey)
	if err != nil {
		return nil, nil, err
	}
	remote, fresh, err := s.remoteJWKS(cfg)
	if err != nil {
		return nil, nil, err
	}
	a := cfg.Auth
	v, err = jwtauth.New(jwtauth.Options{
		Keys:          keys,
		Algorithms:    a.Algorithms,
		PublicKeyFile: a.PublicKeyFile,
		JWKSFile:      a.JWKSFile,
		Audience:      a.Audience,
		Issuer:        a.Issuer,
		Leeway:        a.Leeway,
		MaxTokenBytes: cfg.Limits.MaxTokenBytes,
		Now:           now,
		Remote:        remote,
		OnReloadError: func(err error) {
			s.log.Warn("token key file reload failed; keeping the previous keys", zap.Error(err))
		},
	})
	if err != nil && fresh != nil {
		fresh.Close()
		fresh = nil
	}
	return v, fresh, err
}

// hmacKeys returns the configured HMAC keys (signing key first) or, in dev
// mode without one, the caller's or a random 32-byte key, made once: a
// reload keeps it, so the dev token stays good. Without HS algorithms no
// key is needed (config validation saw to the public key).
func (s *Server) hmacKeys(cfg config.Config, dev []byte) ([]jwtauth.HMACKey, error) {
	a := cfg.Auth
	if a.HMACSecret != "" || a.HMACSecretFile != "" || len(a.HMACSecrets) > 0 {
		keys, err := cfg.HMACKeys()
		if err != nil {
			return nil, err
		}
		out := make([]jwtauth.HMACKey, len(keys))
		for i, k := range keys {
			out[i] = jwtauth.HMACKey{Secret: k.Secret, NotAfter: k.NotAfter}
		}
		return out, nil
	}
	if !cfg.Dev || !allowsHMAC(a.Algorithms) {
		return nil, nil
	}
	if dev == nil {
		dev = s.devKey
	}
	if dev == nil {
		dev = make([]byte, 32)
		_, _ = rand.Read(dev)
	}
	s.devKey = dev
	return []jwtauth.HMACKey{{Secret: dev}}, nil
}

func (s *Server) transportOptions(o Options) netpoll.Options {
	l := s.cfg.Limits
	s.up = &upgrader{node: s.node, auth: s.auth, log: s.log.Named("ws"),
		limits:   newConnLimits(l.MaxConnectionsPerIP, l.MaxConnectionsPerUser, l.UpgradeRate),
		echoPath: s.cfg.Conformance.EchoPath, compressor: s.compressor}
	s.up.cur.Store(newUpgradeSettings(s.cfg))
	return netpoll.Options{
		Handler:          s.up,
		Logger:           s.log.Named("ws"),
		Now:              o.Now,
		Path:             s.cfg.WSPath,
		ExtraPaths:       s.echoPaths(),
		Subprotocol:      protocol,
		Workers:          s.cfg.Workers,
		FlushDelay:       s.cfg.FlushDelay,
		MaxConns:         maxConns(l.MaxConnections),
		MaxConnsPerIP:    l.MaxConnectionsPerIP,
		HandshakeTimeout: l.HandshakeTimeout,
		MessageTimeout:   l.MessageTimeout,
		MaxHeaderBytes:   l.MaxHeaderBytes,
		MaxMessageSize:   l.MaxMessageSize,
		MaxFragments:     l.MaxFragments,
		WriteQueueBytes:  l.WriteQueueBytes,
		PingInterval:     s.cfg.Heartbeat.Interval,
		PongTimeout:      s.cfg.Heartbeat.Timeout,
		Deflate:          s.cfg.Compression.Negotiate,
	}
}

// echoPaths is the conformance echo route as the transport's extra path,
// nil when it is off. Validate has made sure it was turned on on purpose.
func (s *Server) echoPaths() []string {
	if s.cfg.Conformance.EchoPath == "" {
		return nil
	}
	return []string{s.cfg.Conformance.EchoPath}
}

// fdReserve is the descriptors kept out of limits.max_connections for
// what is not a client of the WebSocket port: listeners, the epoll set,
// clients of the Unix publish socket, the broker, logs.
const fdReserve = 128

// maxConns is the configured limit, or what the open-file limit leaves
// after fdReserve; a configured limit above that is lowered to it, so
// that connections on the port (HTTP ones included: they count too) can
// never take the descriptors the publish socket and an upgrade with a
// token need.
func maxConns(configured int) int {
	var rl syscall.Rlimit
	fit := 1000
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		n := int(min(rl.Cur, 1<<20))
		fit = max(n-fdReserve, n/2)
	}
	if configured > 0 {
		return min(configured, fit)
	}
	return fit
}

func (s *Server) bind(o Options) error {
	s.wsLn = o.Listener
	s.ownWS, s.ownSocket = o.Listener == nil, o.SocketListener == nil
	if s.wsLn == nil {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
		}
		s.wsLn = ln
	}
	s.sockLn = o.SocketListener
	if s.sockLn == nil && s.cfg.Socket != "" {
		ln, err := ipc.ListenUnixWith(s.cfg.Socket, ipc.ListenUnixOptions{Mode: s.cfg.SocketMode, Group: s.cfg.SocketGroup})
		if err != nil {
			_ = s.wsLn.Close()
			return fmt.Errorf("socket %s: %w", s.cfg.Socket, err)
		}
		s.sockLn = ln
	}
	if s.sockLn != nil {
		s.unixH = newSwapHandler(ipc.NewHandler(s.apiOptions(s.cfg)))
		s.unix = ipc.NewHTTPServer(s.unixH, s.log)
	}
	if servesHTTP(s.cfg) {
		s.tcpH = newSwapHandler(s.tcpRoutes(s.cfg))
		s.tcp = ipc.NewHTTPServer(s.tcpH, s.log)
		s.httpLn = s.ws.HTTPListener() // before Serve: workers read it
	}
	return s.bindMetrics(o.MetricsListener)
}

// bindMetrics binds metrics.listen, when set; on error it releases what
// bind took.
func (s *Server) bindMetrics(passed net.Listener) error {
	if s.cfg.Metrics.Listen == "" {
		if passed != nil {
			_ = passed.Close() // metrics.listen was unset meanwhile
		}
		return nil
	}
	ln, err := passed, error(nil)
	if ln == nil {
		ln, err = net.Listen("tcp", s.cfg.Metrics.Listen)
	}
	if err != nil {
		_ = s.wsLn.Close()
		if s.sockLn != nil {
			_ = s.sockLn.Close()
		}
		return fmt.Errorf("metrics.listen %s: %w", s.cfg.Metrics.Listen, err)
	}
	s.metricsLn = ln
	s.metricsH = newSwapHandler(s.metricsRoutes(s.cfg))
	s.metricsS = ipc.NewHTTPServer(s.metricsH, s.log)
	return nil
}

// MetricsAddr is metrics.listen's bound address, nil when it is unset.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// Metrics is the Server's own Prometheus registry, for an embedding
// application to serve or gather as it likes (Gather).
func (s *Server) Metrics() *prometheus.Registry { return s.ops.Registry() }

// apiOptions is the publish API's configuration from cfg.
func (s *Server) apiOptions(cfg config.Config) ipc.Options {
	o := ipc.Options{
		Publisher:    publisher{s},
		Directory:    directory{s.node},
		OpenAPI:      api.OpenAPI(),
		Logger:       s.log,
		MaxBodyBytes: int64(cfg.Limits.MaxPublishBytes),
		APIKey:       cfg.API.Key,
		PeerUIDs:     cfg.SocketPeerUIDs,
		PeerGIDs:     cfg.SocketPeerGIDs,
		Mount:        s.ctl.Handler(true),
	}
	if s.load != nil {
		o.Reloader = reloader{s}
	}
	return o
}

// Addr is the WebSocket listener's address.
func (s *Server) Addr() net.Addr { return s.wsLn.Addr() }

// DevKey is the HMAC key generated in dev mode, nil otherwise: what signs
// the dev token.
func (s *Server) DevKey() []byte { return s.devKey }

// Run serves until ctx ends or a listener fails, then shuts down gracefully
// (bounded by drain.window plus ShutdownGrace). It returns nil after a
// shutdown caused by ctx.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 4)
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	var sweeper sync.WaitGroup
	sweeper.Go(func() { s.node.Run(sweepCtx) })
	sweeper.Go(func() { s.ctl.Run(sweepCtx) })
	if s.broker != nil {
		s.brokerOK.Store(true) // until a probe says otherwise
		sweeper.Go(func() { s.watchBroker(sweepCtx) })
	}
	if s.cfg.Status.Enabled {
		sweeper.Go(func() { s.ops.PublishStatus(sweepCtx) })
	}
	defer sweeper.Wait()
	defer stopSweep()
	// A server that ends because a hand-off told it to (pausing the
	// publish API, releasing the transport) is not a failure, and the
	// hand-off decides when Run returns.
	serve := func(f func() error) {
		go func() {
			if err := f(); ignoreClosed(err) != nil || !s.handing.Load() {
				errc <- err
			}
		}()
	}
	serve(func() error { return s.ws.Serve(s.wsLn) })
	if s.unix != nil {
		unix, ln := s.unix, s.sockLn
		serve(func() error { return unix.Serve(ln) })
	}
	if s.tcp != nil {
		serve(func() error { return s.tcp.Serve(s.httpLn) })
	}
	if s.metricsS != nil {
		serve(func() error { return s.metricsS.Serve(s.metricsLn) })
	}
	s.serving.Store(true)
	var err error
	handed := false
	select {
	case <-ctx.Done():
		handed = s.waitHandOff() || s.storeOnStop()
	case <-s.handedOff:
		handed = true
	case err = <-errc:
		s.log.Error("listener failed", zap.Error(err))
	}
	if handed {
		return s.quit()
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.live.Load().Drain.Window+ShutdownGrace)
	defer cancel()
	return errors.Join(err, s.Shutdown(sctx))
}

// Shutdown drains the daemon: the listeners close first, publishes already
// accepted are delivered, then every WebSocket gets what was queued for it
// and a close frame with drain.close_code and a reconnect hint, the closes
// spread over drain.window (see drain). When ctx ends first, the rest are
// closed at once, and abruptly after that. It is safe to call more than
// once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() { s.shutErr = s.drain(ctx) })
	return s.shutErr
}

// httpServers are the HTTP servers that run, the publish API's first.
func (s *Server) httpServers() []*http.Server {
	var hs []*http.Server
	for _, h := range []*http.Server{s.unix, s.tcp} {
		if h != nil {
			hs = append(hs, h)
		}
	}
	return hs
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, netpoll.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Stats is a snapshot of the core and transport counters.
type Stats struct {
	daemon.Stats
	// PID lets tools read the process's CPU and memory from /proc.
	PID int `json:"pid"`
	// BrokerUp: see Server.BrokerUp.
	BrokerUp  bool          `json:"broker_up"`
	Transport netpoll.Stats `json:"transport"`
	// SSEStreams are the open SSE streams (they count in Connections too).
	SSEStreams int `json:"sse_streams"`
	// HandOff is the last hand-off this process took part in.
	HandOff HandOffStatus `json:"handoff"`
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	st := Stats{Stats: s.node.Stats(), PID: os.Getpid(), BrokerUp: s.BrokerUp(), Transport: s.ws.Stats(),
		HandOff: s.handOffStatus()}
	if s.sse != nil {
		st.SSEStreams = s.sse.Streams()
	}
	return st
}

// publisher adapts the core to the publish API's interface.
type publisher struct{ s *Server }

var _ ipc.Publisher = publisher{}

func (p publisher) CheckEvent(channel, eventType string, payload []byte) error {
	return p.s.node.CheckEvent(channel, eventType, payload)
}

func (p publisher) PublishBatch(ctx context.Context, n int, event func(int) (string, string, []byte, string),
	done func(int, uint64, string, bool)) (int, error) {
	return p.s.node.PublishBatch(ctx, n, event, p.s.tapBatch(event, done))
}

func (p publisher) Stats() any { return p.s.Stats() }

// allowsHMAC reports whether the pinned algorithms include an HS one (an
// empty list means the default, HS256).
func allowsHMAC(algs []string) bool {
	if len(algs) == 0 {
		return true
	}
	return slices.ContainsFunc(algs, func(a string) bool { return strings.HasPrefix(a, "HS") })
}

// directory adapts the core to the publish API's read routes.
type directory struct{ n *daemon.Node }

var _ ipc.Directory = directory{}

func (d directory) Channels() any { return nonNil(d.n.Channels()) }

func (d directory) Presence(channel string) any { return nonNil(d.n.Presence(channel)) }

func (d directory) StreamConnEvents(ctx context.Context, after uint64, epoch string, write func([]byte) error) error {
	return d.n.StreamConnEvents(ctx, after, epoch, write)
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// compressFrame is the core's Options.Compress: nil (send it plain) for
// what the compressor cannot take, which the core never gives it.
func (s *Server) compressFrame(frame []byte) []byte {
	z, err := s.compressor.Frame(frame)
	if err != nil {
		return nil
	}
	return z
}
