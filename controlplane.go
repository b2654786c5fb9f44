package fanoutd

import (
	"context"
	"errors"
	"time"

	"github.com/fanoutd/fanoutd/control"
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/natsbroker"
	"github.com/fanoutd/fanoutd/daemon/redisbroker"
	"github.com/fanoutd/fanoutd/ops"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// The seams line up: the brokers' control buses are the plane's Bus and
// Store, the core (through nodeControl) its Node.
var (
	_ control.Bus   = (*redisbroker.ControlBus)(nil)
	_ control.Store = (*redisbroker.ControlBus)(nil)
	_ control.Bus   = (*natsbroker.ControlBus)(nil)
	_ control.Store = (*natsbroker.ControlBus)(nil)
	_ control.Node  = nodeControl{}
)

// errRevoked refuses a handshake or refresh of a revoked user or token.
var errRevoked = errors.New("token revoked")

// controlLoadTimeout bounds New's read of the revocations the broker
// keeps; Run retries a failed read.
const controlLoadTimeout = 2 * time.Second

// newControl builds the control plane on the broker's control bus (this
// node alone with the in-memory broker) and loads the kept revocations.
func (s *Server) newControl() *control.Plane {
	o := control.Options{Node: nodeControl{s.node}, Logger: s.log, Now: s.now}
	switch b := s.broker.(type) {
	case *redisbroker.Broker:
		c := b.Control()
		o.Bus, o.Store = c, c
	case *redisbroker.Sharded:
		c := b.Control()
		o.Bus, o.Store = c, c
	case *natsbroker.Broker:
		c := b.Control()
		o.Bus, o.Store = c, c
	}
	p := control.New(o)
	s.ops.Registry().MustRegister(controlCollector{p})
	ctx, cancel := context.WithTimeout(context.Background(), controlLoadTimeout)
	defer cancel()
	if err := p.Load(ctx); err != nil {
		s.log.Warn("revocations not loaded yet; retrying in the background", zap.Error(err))
	}
	return p
}

// nodeControl adapts the core to the plane's Node.
type nodeControl struct{ n *daemon.Node }

func (c nodeControl) Disconnect(by, value string, code int, reason string) int {
	return c.n.Disconnect(by, value, code, reason)
}

func (c nodeControl) SubscribeServer(by, value, channel string) int {
	return c.n.SubscribeServer(by, value, channel)
}

func (c nodeControl) UnsubscribeServer(by, value, channel, reason string) int {
	return c.n.UnsubscribeServer(by, value, channel, reason)
}

func (c nodeControl) Connections(user, channel string) any {
	return nonNil(c.n.Connections(user, channel))
}

func (c nodeControl) History(ctx context.Context, channel string, since uint64, epoch string, hasSince bool, limit int) (any, error) {
	var pos *daemon.Position
	if hasSince {
		pos = &daemon.Position{Offset: since, Epoch: epoch}
	}
	return c.n.History(ctx, channel, pos, limit)
}

func (c nodeControl) CheckChannel(channel string) error { return c.n.CheckChannel(channel) }

func (c nodeControl) ClearHistory(ctx context.Context, channel string) error {
	return c.n.ClearHistory(ctx, channel)
}

// tapBatch wraps a publish's done callback so that the control plane's
// taps see each event published through this node.
func (s *Server) tapBatch(event func(int) (string, string, []byte, string),
	done func(int, uint64, string, bool)) func(int, uint64, string, bool) {
	if !s.ctl.Tapping() {
		return done // nothing to wrap: publishing allocates nothing for the tap
	}
	return func(i int, offset uint64, epoch string, dup bool) {
		if !dup {
			ch, typ, payload, _ := event(i)
			s.ctl.Event(ch, typ, payload, offset, epoch)
		}
		if done != nil {
			done(i, offset, epoch, dup)
		}
	}
}

// The control plane's metrics, documented in README (Control plane).
var (
	descControlActions = ops.Desc("control_actions_total", "Control actions applied on this node, by op.", "op")
	descTapDropped     = ops.Desc("control_tap_lines_dropped_total", "Tap lines dropped because a tap fell behind (publishing never waits for a tap).")
	descRevocations    = ops.Desc("control_revocations", "Revocations in force on this node.")
	descControlNodes   = ops.Desc("control_nodes", "Nodes this one hears on the control bus, itself included.")
)

// controlCollector reads the plane's counters at scrape time.
type controlCollector struct{ p *control.Plane }

func (c controlCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descControlActions
	ch <- descTapDropped
	ch <- descRevocations
	ch <- descControlNodes
}

func (c controlCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	for op, n := range st.Actions {
		ch <- prometheus.MustNewConstMetric(descControlActions, prometheus.CounterValue, float64(n), op)
	}
	ch <- prometheus.MustNewConstMetric(descTapDropped, prometheus.CounterValue, float64(st.TapDropped))
	ch <- prometheus.MustNewConstMetric(descRevocations, prometheus.GaugeValue, float64(st.Revocations))
	ch <- prometheus.MustNewConstMetric(descControlNodes, prometheus.GaugeValue, float64(st.Nodes))
}
