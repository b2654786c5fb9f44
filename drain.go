package fanoutd

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/netpoll"
	"go.uber.org/zap"
)

// ShutdownGrace is what Run allows a shutdown beyond drain.window: the
// publish API finishing its requests, the last close handshakes
// (netpoll's close timeout, 3 s) and the listeners. Keep the unit's
// TimeoutStopSec= at least drain.window plus this (the shipped unit does;
// the daemon also sends EXTEND_TIMEOUT_USEC while it drains).
const ShutdownGrace = 15 * time.Second

// drainOptions is how the transport lets the clients go under d: its close
// code, a reconnect hint per client, the window, and EXTEND_TIMEOUT_USEC
// sent as the closes go out.
func (s *Server) drainOptions(d config.Drain) netpoll.ShutdownOptions {
	return netpoll.ShutdownOptions{
		Code:   d.CloseCode,
		Reason: func() string { return reconnectHint(d.ReconnectAfter, rand.Float64()) },
		Spread: d.Window,
		Progress: func(closed, total int) {
			s.notifyErr("EXTEND_TIMEOUT_USEC", s.notify.ExtendTimeout(ShutdownGrace))
			s.log.Info("draining", zap.Int("closed", closed), zap.Int("connections", total))
		},
	}
}

// reconnectHint is a close reason telling the client when to come back:
// after plus a jitter of up to as much again, so that the clients of one
// batch of closes do not all return in the same instant. JSON, so that a
// client can parse it; 40 bytes at most, well within a close frame's 123.
func reconnectHint(after time.Duration, jitter float64) string {
	ms := after.Milliseconds()
	ms += int64(jitter * float64(ms))
	return `{"reconnect_after_ms":` + strconv.FormatInt(ms, 10) + `}`
}

// drain stops the daemon in the order that loses nothing: new WebSockets
// and publishes are refused first (listeners closed), the publishes
// already accepted finish (each one has queued its event to every
// subscriber by then), and only then are the clients closed, spread over
// drain.window, each after what was queued for it.
func (s *Server) drain(ctx context.Context) error {
	d := s.live.Load().Drain
	s.draining.Store(true)
	s.notifyErr("STOPPING", s.notify.Stopping())
	s.notifyErr("EXTEND_TIMEOUT_USEC", s.notify.ExtendTimeout(d.Window+ShutdownGrace))
	s.log.Info("shutting down: listeners closed, accepted publishes finishing, then the clients are closed",
		zap.Int("connections", s.ws.Conns()), zap.Duration("window", d.Window), zap.Int("close_code", d.CloseCode))
	s.ws.StopAccepting()
	s.node.CloseConnEvents() // streams end, so the API's shutdown need not wait for them
	s.ctl.CloseTaps()        // so do taps
	if s.sse != nil {
		// Event streams end like WebSockets, after what is queued, so the
		// TCP server's shutdown need not wait for them.
		s.sse.Shutdown(d.CloseCode, reconnectHint(d.ReconnectAfter, rand.Float64()))
	}
	var errs []error
	for _, h := range s.httpServers() {
		errs = append(errs, ignoreClosed(h.Shutdown(ctx)))
	}
	if s.unix == nil && s.sockLn != nil {
		errs = append(errs, s.sockLn.Close())
	}
	errs = append(errs, ignoreClosed(s.ws.ShutdownWith(ctx, s.drainOptions(d))))
	s.ctl.Leave(ctx) // while the broker still carries it
	s.closeBroker()
	s.closeJWKS()
	if s.metricsS != nil { // last: the drain itself can be watched
		errs = append(errs, ignoreClosed(s.metricsS.Shutdown(ctx)))
	}
	return errors.Join(errs...)
}
