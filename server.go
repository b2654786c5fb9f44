package fanoutd

import (
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
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/ipc"
	"github.com/fanoutd/fanoutd/netpoll"
	"go.uber.org/zap"
)

// Server is one running fanoutd: listeners bound by New, served by Run.
type Server struct {
	cfg    config.Config
	log    *zap.Logger
	node   *daemon.Node
	ws     *netpoll.Server
	wsLn   net.Listener
	sockLn net.Listener
	unix   *http.Server // the publish API on the Unix socket
	tcp    *http.Server // the publish API (api.key set) and the SSE route on the TCP listener
	httpLn net.Listener // non-WebSocket requests handed over by the transport
	up     *upgrader    // admits WebSocket upgrades and SSE streams alike
	sse    *sseRoute    // nil when sse.enabled is false
	devKey []byte

	shutOnce sync.Once
	shutErr  error
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
	s := &Server{cfg: cfg, log: log}
	auth, err := s.verifier(o.DevKey, o.Now)
	if err != nil {
		return nil, err
	}
	defChannel, classes := channelOptions(cfg)
	s.node = daemon.New(daemon.Options{
		Logger:            log.Named("core"),
		Now:               o.Now,
		Frame:             netpoll.TextFrame,
		MaxSubscriptions:  cfg.Limits.MaxSubscriptions,
		CommandsPerSecond: cfg.Limits.CommandsPerSecond,
		MaxChannelLength:  cfg.Limits.MaxChannelLength,
		MaxPayloadBytes:   cfg.Limits.MaxPublishBytes,
		PingInterval:      cfg.Heartbeat.Interval,
		Protocol:          protocol,
		Auth:              auth,
		ExpiryWarning:     cfg.Auth.ExpiryWarning,
		PublicChannels:    cfg.Auth.PublicChannels,

		DefaultChannel:     defChannel,
		ChannelClasses:     classes,
		HistoryMaxBytes:    int64(cfg.History.MaxBytes),
		IdempotencyWindow:  cfg.Idempotency.Window,
		IdempotencyMaxKeys: cfg.Idempotency.MaxKeys,
		Authorize:          o.Hooks.AuthorizeSubscribe,
		OnConnect:          o.Hooks.OnConnect,
		OnDisconnect:       o.Hooks.OnDisconnect,
	})
	l := cfg.Limits
	s.up = &upgrader{node: s.node, auth: auth, origins: newOriginPolicy(cfg.Origins), log: log.Named("ws"),
		limits:   newConnLimits(l.MaxConnectionsPerIP, l.MaxConnectionsPerUser, l.UpgradeRate),
		echoPath: cfg.Conformance.EchoPath, cookie: cfg.Auth.Cookie, anonymous: cfg.Auth.Anonymous}
	if cfg.SSE.Enabled {
		s.sse = newSSERoute(s.up, s.node, cfg.SSE.Heartbeat, l.WriteQueueBytes, cfg.SSE.MaxStreams)
	}
	s.ws, err = netpoll.NewServer(s.transportOptions(o))
	if err != nil {
		return nil, err
	}
	if err := s.bind(o); err != nil {
		_ = s.ws.Shutdown(context.Background(), netpoll.CloseGoingAway, "")
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
	_, err := s.verifier(nil, nil)
	return err
}

// verifier builds the token verifier from the configuration.
func (s *Server) verifier(devKey []byte, now func() time.Time) (*jwtauth.Verifier, error) {
	key, err := s.hmacKey(devKey)
	if err != nil {
		return nil, err
	}
	a := s.cfg.Auth
	return jwtauth.New(jwtauth.Options{
		Key:           key,
		Algorithms:    a.Algorithms,
		PublicKeyFile: a.PublicKeyFile,
		JWKSFile:      a.JWKSFile,
		Audience:      a.Audience,
		Issuer:        a.Issuer,
		Leeway:        a.Leeway,
		MaxTokenBytes: s.cfg.Limits.MaxTokenBytes,
		Now:           now,
		OnReloadError: func(err error) {
			s.log.Warn("token key file reload failed; keeping the previous keys", zap.Error(err))
		},
	})
}

// hmacKey returns the configured key or, in dev mode without one, the
// caller's or a random 32-byte key. Without HS algorithms no key is needed
// (config validation saw to the public key).
func (s *Server) hmacKey(dev []byte) ([]byte, error) {
	a := s.cfg.Auth
	if a.HMACSecret != "" || a.HMACSecretFile != "" {
		return s.cfg.HMACKey()
	}
	if !s.cfg.Dev || !allowsHMAC(a.Algorithms) {
		return nil, nil
	}
	if dev == nil {
		dev = make([]byte, 32)
		_, _ = rand.Read(dev)
	}
	s.devKey = dev
	return dev, nil
}

func (s *Server) transportOptions(o Options) netpoll.Options {
	l := s.cfg.Limits
	return netpoll.Options{
		Handler:          s.up,
		Logger:           s.log.Named("ws"),
		Now:              o.Now,
		Path:             s.cfg.WSPath,
		ExtraPaths:       s.echoPaths(),
		Subprotocol:      protocol,
		Workers:          s.cfg.Workers,
		MaxConns:         maxConns(l.MaxConnections),
		HandshakeTimeout: l.HandshakeTimeout,
		MaxHeaderBytes:   l.MaxHeaderBytes,
		MaxMessageSize:   l.MaxMessageSize,
		MaxFragments:     l.MaxFragments,
		WriteQueueBytes:  l.WriteQueueBytes,
		PingInterval:     s.cfg.Heartbeat.Interval,
		PongTimeout:      s.cfg.Heartbeat.Timeout,
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

// maxConns is the configured limit, or what the open-file limit leaves
// after a reserve for listeners, the API and logs.
func maxConns(configured int) int {
	if configured > 0 {
		return configured
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 1024 {
		return 1000
	}
	return int(min(rl.Cur, 1<<20)) - 128
}

func (s *Server) bind(o Options) error {
	s.wsLn = o.Listener
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
	api := ipc.Options{
		Publisher:    publisher{s},
		Directory:    directory{s.node},
		Logger:       s.log,
		MaxBodyBytes: int64(s.cfg.Limits.MaxPublishBytes),
		APIKey:       s.cfg.API.Key,
		PeerUIDs:     s.cfg.SocketPeerUIDs,
		PeerGIDs:     s.cfg.SocketPeerGIDs,
	}
	if s.sockLn != nil {
		s.unix = ipc.NewHTTPServer(ipc.NewHandler(api), s.log)
	}
	if h := s.tcpHandler(api); h != nil {
		s.tcp = ipc.NewHTTPServer(h, s.log)
		s.httpLn = s.ws.HTTPListener() // before Serve: workers read it
	}
	return nil
}

// tcpHandler serves what the TCP listener answers besides WebSockets: the
// SSE route (sse.enabled) and the publish API (api.key); nil for neither,
// and then the transport answers other paths 404 itself.
func (s *Server) tcpHandler(api ipc.Options) http.Handler {
	var apiH http.Handler
	if s.cfg.API.Key != "" {
		apiH = ipc.NewTCPHandler(api)
	}
	switch {
	case s.sse == nil:
		return apiH
	case apiH == nil:
		apiH = http.NotFoundHandler()
	}
	path := s.cfg.SSE.Path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			s.sse.ServeHTTP(w, r)
			return
		}
		apiH.ServeHTTP(w, r)
	})
}

// Addr is the WebSocket listener's address.
func (s *Server) Addr() net.Addr { return s.wsLn.Addr() }

// DevKey is the HMAC key generated in dev mode, nil otherwise: what signs
// the dev token.
func (s *Server) DevKey() []byte { return s.devKey }

// Run serves until ctx ends or a listener fails, then shuts down gracefully
// (bounded by 10 s). It returns nil after a shutdown caused by ctx.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 3)
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	var sweeper sync.WaitGroup
	sweeper.Go(func() { s.node.Run(sweepCtx) })
	defer sweeper.Wait()
	defer stopSweep()
	go func() { errc <- s.ws.Serve(s.wsLn) }()
	if s.unix != nil {
		go func() { errc <- s.unix.Serve(s.sockLn) }()
	}
	if s.tcp != nil {
		go func() { errc <- s.tcp.Serve(s.httpLn) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		s.log.Error("listener failed", zap.Error(err))
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, s.Shutdown(sctx))
}

// Shutdown stops the publish API first (in-flight publishes finish and are
// delivered), then closes every SSE stream and WebSocket with 1001 after
// what was queued for it. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		var errs []error
		s.node.CloseConnEvents() // streams end, so the API's shutdown need not wait for them
		if s.unix != nil {
			errs = append(errs, ignoreClosed(s.unix.Shutdown(ctx)))
		}
		if s.sse != nil {
			// Event streams end like WebSockets (1001, after what is
			// queued), so the TCP server's shutdown need not wait for them.
			s.sse.shutdown(netpoll.CloseGoingAway, "server shutting down")
		}
		if s.tcp != nil {
			errs = append(errs, ignoreClosed(s.tcp.Shutdown(ctx)))
		}
		if s.unix == nil && s.sockLn != nil {
			errs = append(errs, s.sockLn.Close())
		}
		errs = append(errs, ignoreClosed(s.ws.Shutdown(ctx, netpoll.CloseGoingAway, "server shutting down")))
		s.shutErr = errors.Join(errs...)
	})
	return s.shutErr
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
	PID       int           `json:"pid"`
	Transport netpoll.Stats `json:"transport"`
	// SSEStreams are the open SSE streams (they count in Connections too).
	SSEStreams int `json:"sse_streams"`
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	st := Stats{Stats: s.node.Stats(), PID: os.Getpid(), Transport: s.ws.Stats()}
	if s.sse != nil {
		st.SSEStreams = s.sse.count()
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
	return p.s.node.PublishBatch(ctx, n, event, done)
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
