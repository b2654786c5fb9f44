package fanoutd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/ipc"
	"github.com/fanoutd/fanoutd/netpoll"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

// ErrHandOffBusy refuses a hand-off while another one runs.
var ErrHandOffBusy = errors.New("fanoutd: a hand-off is already in progress")

// ErrHandOffDisabled refuses a hand-off when handoff.enabled is false.
var ErrHandOffDisabled = errors.New("fanoutd: hand-offs are disabled (handoff.enabled: false)")

// The image's sections (handoff.Encode): what each layer hands over.
const (
	sectionMeta      = "meta"      // imageMeta
	sectionTransport = "transport" // []connImage, in transportParts parts: transport.0, transport.1…
	sectionNode      = "node"      // daemon.NodeState
	sectionRevoked   = "revoked"   // []control.Revocation
)

// transportParts is how many sections the connections are cut into, so
// that encoding and decoding them (the bulk of an image: a few hundred
// bytes a connection) use every core.
const transportParts = 8

func transportPart(i int) string { return sectionTransport + "." + strconv.Itoa(i) }

// imageMeta says who made the image, for the log of the process that
// reads it.
type imageMeta struct {
	Version     string    `json:"version"`
	PID         int       `json:"pid"`
	Connections int       `json:"connections"`
	FrozenAt    time.Time `json:"frozen_at"`
}

// connImage is one WebSocket in the image: its socket's key (the
// descriptor's two ends, handoff.ConnKey, by which the new process finds
// the descriptor among those it received), the transport's state and
// the session's; Session is nil for a connection still in its handshake
// and for the conformance echo route.
type connImage struct {
	Key       string               `json:"key"`
	Transport netpoll.ConnState    `json:"transport"`
	Session   *daemon.SessionState `json:"session,omitempty"`
}

// HandOffReport says what a hand-off moved and what it cost.
type HandOffReport struct {
	// Connections handed over.
	Connections int `json:"connections"`
	// Pause is how long this process held every connection still: from
	// the freeze to the new process's commit.
	Pause time.Duration `json:"pause_ns"`
	// NewPID is the process that serves now (0 for the service manager's
	// store: the next start).
	NewPID int `json:"new_pid,omitempty"`
	// Phases are the steps of the hand-off, in order, with their times.
	Phases []Phase `json:"phases,omitempty"`
}

// handOffRoute is where a hand-off's bundle goes.
type handOffRoute interface {
	// send transfers the bundle; on success the receiver is ready to
	// serve and waits for commit.
	send(ctx context.Context, b handoff.Bundle) error
	// commit is the point of no return: the receiver serves from now on.
	commit(ctx context.Context) error
	// abort tells the receiver to give up without touching any socket.
	abort()
	pid() int
}

// handOff moves every WebSocket, the listeners and the state behind them
// to the receiver r reaches, in the order that loses nothing:
//  1. the publish API stops taking connections (they wait in the listen
//     backlog) and finishes the requests it has: every accepted publish
//     is queued to its subscribers before anything is frozen;
//  2. the core stops delivering (broker events arriving now are caught up
//     by the new process from the broker's history), the transport stops
//     reading, writing and accepting;
//  3. the image (each connection's unread input, unwritten output and
//     session; each channel's position and history) and the descriptors
//     go to r, which takes everything over and says it is ready;
//  4. commit: this process lets go of every descriptor without a byte on
//     the wire, and Run returns.
//
// Any failure before the commit undoes 1–2: this process serves on and
// nobody noticed beyond the pause. After it, the new process serves.
func (s *Server) handOff(ctx context.Context, r handOffRoute) (HandOffReport, error) {
	if !s.live.Load().HandOff.Enabled {
		r.abort()
		return HandOffReport{}, s.handOffFailed(ErrHandOffDisabled)
	}
	if !s.handing.CompareAndSwap(false, true) {
		r.abort()
		return HandOffReport{}, s.handOffFailed(ErrHandOffBusy)
	}
	rep, err := s.handOffLocked(ctx, r)
	if err != nil {
		s.handing.Store(false)
		return rep, s.handOffFailed(err)
	}
	if rep.NewPID != 0 {
		s.log.Info("hand-off done: the new process serves every connection", zap.Int("connections", rep.Connections),
			zap.Duration("pause", rep.Pause), zap.Int("new_pid", rep.NewPID), zap.Array("phases", phaseList(rep.Phases)))
	} else {
		s.log.Info("hand-off done: every connection is in the service manager's store for the next start",
			zap.Int("connections", rep.Connections), zap.Duration("frozen_for", rep.Pause), zap.Array("phases", phaseList(rep.Phases)))
	}
	close(s.handedOff) // Run returns without draining
	return rep, nil
}

// handOffFailed records why a hand-off did not happen (Stats'
// handoff.last_error), logs it, and returns it: this process serves on.
func (s *Server) handOffFailed(err error) error {
	s.handOffStat.Store(&HandOffStatus{LastError: err.Error(), At: s.now()})
	s.log.Warn("hand-off failed: this process serves on", zap.Error(err))
	return err
}

func (s *Server) handOffLocked(ctx context.Context, r handOffRoute) (HandOffReport, error) {
	ph := phases{now: s.now, at: s.now()}
	pub, err := s.pauseAPI(ctx)
	if err != nil {
		r.abort()
		return HandOffReport{}, err
	}
	s.pausedSocket = pub // the publish socket, while its listener is closed
	defer func() { s.pausedSocket = nil }()
	ph.mark("api_paused")
	// Every client waits from here to the commit, and the image allocates
	// a few hundred bytes a connection: no collection meanwhile (its
	// assists would slow the export), the usual pace again after.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	frozen := s.now()
	s.node.Freeze()
	if err := s.ws.Freeze(ctx); err != nil {
		s.node.Unfreeze()
		s.resumeAPI(pub)
		r.abort()
		return HandOffReport{}, fmt.Errorf("freeze the transport: %w", err)
	}
	ph.mark("frozen")
	b, n, err := s.bundle(frozen, &ph)
	if err == nil {
		err = r.send(ctx, b)
		ph.mark("sent_and_taken")
	}
	if err == nil {
		err = r.commit(ctx)
	}
	if err != nil {
		r.abort()
		s.ws.Resume()
		s.node.Unfreeze()
		s.resumeAPI(pub)
		return HandOffReport{}, err
	}
	if s.onHandedOff != nil {
		s.onHandedOff()
	}
	s.ws.Release()
	s.node.DetachAll()
	if pub != nil {
		_ = pub.Close()
	}
	ph.mark("committed")
	return HandOffReport{Connections: n, Pause: s.now().Sub(frozen), NewPID: r.pid(), Phases: ph.done}, nil
}

// phases times the steps of a hand-off, for its log line.
type phases struct {
	now  func() time.Time
	at   time.Time
	done []Phase
}

// Phase is one step of a hand-off and how long it took.
type Phase struct {
	Name string        `json:"name"`
	Took time.Duration `json:"took_ns"`
}

func (p *phases) mark(name string) {
	t := p.now()
	p.done = append(p.done, Phase{Name: name, Took: t.Sub(p.at)})
	p.at = t
}

// MarshalLogArray lists the phases in a log line.
func (p phaseList) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, ph := range p {
		enc.AppendString(ph.Name + " " + ph.Took.Round(time.Microsecond).String())
	}
	return nil
}

type phaseList []Phase

// pauseAPI stops the publish API for a hand-off: the connection-event
// streams and taps end (their readers come back to the new process, the
// event stream where it left off), publish streams end after acking what
// they read, the requests in progress finish, and the socket is handed
// over with its backlog. It returns a duplicate of the publish socket,
// nil when there is none.
func (s *Server) pauseAPI(ctx context.Context) (*os.File, error) {
	s.node.CloseConnEvents()
	s.ctl.CloseTaps()
	if s.unix == nil {
		return nil, nil
	}
	f, err := dupListener(s.sockLn)
	if err != nil {
		s.node.ReopenConnEvents()
		s.ctl.ReopenTaps()
		return nil, fmt.Errorf("hand over the publish socket: %w", err)
	}
	if ul, ok := s.sockLn.(*ipc.UnixListener); ok {
		ul.KeepFile() // the file stays for the new process (or for resumeAPI)
	}
	if err := s.unix.Shutdown(ctx); err != nil {
		s.resumeAPI(f)
		return nil, fmt.Errorf("finish the publish API's requests: %w", err)
	}
	return f, nil
}

// resumeAPI serves the publish API again after a failed hand-off, on the
// socket pauseAPI handed over.
func (s *Server) resumeAPI(pub *os.File) {
	s.node.ReopenConnEvents()
	s.ctl.ReopenTaps()
	if pub == nil {
		return
	}
	ln, err := ipc.AdoptUnixListener(pub, s.cfg.Socket)
	_ = pub.Close()
	if err != nil {
		s.log.Error("the publish API could not resume after a failed hand-off", zap.Error(err))
		return
	}
	s.sockLn = ln
	s.unix = ipc.NewHTTPServer(s.unixH, s.log)
	srv := s.unix
	go func() {
		if err := ignoreClosed(srv.Serve(ln)); err != nil {
			s.log.Error("publish API", zap.Error(err))
		}
	}()
}

// bundle is the hand-off's image and every connection's descriptor (this
// process's own: the receiver gets copies, and this one lets go of its
// own at Release).
func (s *Server) bundle(frozen time.Time, ph *phases) (handoff.Bundle, int, error) {
	var b handoff.Bundle
	sessions := map[string]daemon.SessionState{}
	for _, st := range s.node.ExportSessions() {
		sessions[st.ID] = st
	}
	ph.mark("sessions_exported")
	states := s.ws.Export()
	ph.mark("transport_exported")
	conns := make([]connImage, 0, len(states))
	for _, st := range states {
		key := handoff.ConnKey(st.Local, st.Remote)
		if !st.Local.IsValid() || !st.Remote.IsValid() {
			continue // failed meanwhile (getsockname): nothing to hand over
		}
		ci := connImage{Key: key, Transport: st}
		if ss, ok := sessions[st.ID]; ok && st.ID != "" {
			ci.Session = &ss
		}
		conns = append(conns, ci)
		b.Files = append(b.Files, st.Fd)
		b.Names = append(b.Names, handoff.ConnName)
	}
	ph.mark("sockets_named")
	var err error
	sections := map[string]any{
		sectionMeta:    imageMeta{Version: s.version, PID: os.Getpid(), Connections: len(conns), FrozenAt: frozen},
		sectionNode:    s.node.ExportState(),
		sectionRevoked: s.ctl.Revocations(),
	}
	for i := range transportParts {
		sections[transportPart(i)] = conns[i*len(conns)/transportParts : (i+1)*len(conns)/transportParts]
	}
	b.Image, err = handoff.Encode(sections)
	if err != nil {
		return handoff.Bundle{}, 0, err
	}
	ph.mark("image_encoded")
	return b, len(conns), nil
}

// Listener names in a hand-off bundle (handoff.Bundle.Names).
const (
	ListenerWS      = handoff.NamePrefix + "listen-ws"
	ListenerPublish = handoff.NamePrefix + "listen-publish"
	ListenerMetrics = handoff.NamePrefix + "listen-metrics"
)

// listenerBundle names the descriptors of the listeners the new process
// is to serve on (this process's own: it keeps them until it quits): the
// WebSocket listener, the publish socket and the metrics listener, those
// there are and those own says.
func (s *Server) listenerBundle(own func(name string) bool) (handoff.Bundle, error) {
	var b handoff.Bundle
	for _, l := range []struct {
		name string
		ln   net.Listener
	}{{ListenerWS, s.wsLn}, {ListenerPublish, s.sockLn}, {ListenerMetrics, s.metricsLn}} {
		if l.ln == nil || !own(l.name) {
			continue
		}
		if l.name == ListenerPublish && s.pausedSocket != nil {
			b.Files = append(b.Files, int(s.pausedSocket.Fd()))
			b.Names = append(b.Names, l.name)
			continue
		}
		fd, err := listenerFD(l.ln)
		if err != nil {
			return b, fmt.Errorf("hand over the %s listener: %w", l.name, err)
		}
		b.Files = append(b.Files, fd)
		b.Names = append(b.Names, l.name)
	}
	return b, nil
}

// dupListener duplicates ln's descriptor (close-on-exec) as a file of its
// own, leaving ln's socket non-blocking.
func dupListener(ln net.Listener) (*os.File, error) {
	fd, err := listenerFD(ln)
	if err != nil {
		return nil, err
	}
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	return os.NewFile(uintptr(d), "fanoutd-publish"), nil
}

// listenerFD is ln's descriptor (ipc.UnixListener's inner one). It stays
// valid while ln is open.
func listenerFD(ln net.Listener) (int, error) {
	if ul, ok := ln.(*ipc.UnixListener); ok {
		ln = ul.Listener
	}
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T has no descriptor", ln)
	}
	return netpoll.RawFd(sc)
}

// waitHandOff waits, when Run's context ends during a hand-off (SIGTERM
// while an upgrade runs), for that hand-off to end, bounded by
// handoff.timeout: true when it committed (Run then quits), false when it
// failed or took too long (Run then goes on to stop as usual).
func (s *Server) waitHandOff() bool {
	deadline := time.After(s.live.Load().HandOff.Timeout)
	for s.handing.Load() {
		select {
		case <-s.handedOff:
			return true
		case <-deadline:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case <-s.handedOff:
		return true
	default:
		return false
	}
}

// storeOnStop hands every connection to the service manager's store when
// Run's context ended and there is one (Options.FDStore): true when the
// next start has them, false to drain as usual.
func (s *Server) storeOnStop() bool {
	if s.fdstore == nil || !s.live.Load().HandOff.Enabled {
		return false
	}
	r := storeRoute{s: s, store: *s.fdstore, sent: new(bool)}
	if err := r.fits(); err != nil {
		s.log.Info("draining instead of handing the connections to the service manager's store", zap.Error(err))
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.live.Load().HandOff.Timeout)
	defer cancel()
	_, err := s.handOff(ctx, r)
	return err == nil
}

// quit ends Run after a hand-off: the new process serves every connection
// and listener, so this one only lets go of its copies. SSE streams, which
// a hand-off cannot carry, are closed as a drain closes them; their
// browsers resume from the new process with Last-Event-ID.
func (s *Server) quit() error {
	s.shutOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		s.draining.Store(true)
		_ = s.wsLn.Close() // our copy: the socket stays the new process's
		if s.sse != nil {
			d := s.live.Load().Drain
			s.sse.Shutdown(1012, reconnectHint(d.ReconnectAfter, rand.Float64()))
		}
		if s.tcp != nil {
			_ = s.tcp.Shutdown(ctx)
		}
		if s.sockLn != nil {
			_ = s.sockLn.Close() // handed over: the file stays (pauseAPI)
		}
		s.ctl.Leave(ctx)
		s.closeBroker()
		s.closeJWKS()
		if s.metricsS != nil {
			_ = s.metricsS.Shutdown(ctx)
		}
	})
	return nil
}

// HandOffStatus is Stats' account of the last hand-off: the one this
// process took over (FromPID…), or its last failed attempt to hand over.
type HandOffStatus struct {
	FromPID     int       `json:"from_pid,omitempty"`
	FromVersion string    `json:"from_version,omitempty"`
	Connections int       `json:"connections,omitempty"`
	PauseMS     float64   `json:"pause_ms,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	At          time.Time `json:"at,omitzero"`
}

func (s *Server) handOffStatus() HandOffStatus {
	if p := s.handOffStat.Load(); p != nil {
		return *p
	}
	return HandOffStatus{}
}
