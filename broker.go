package fanoutd

import (
	"context"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/natsbroker"
	"github.com/fanoutd/fanoutd/daemon/redisbroker"
	"go.uber.org/zap"
)

// brokerLink is a broker the server starts with its node and closes.
type brokerLink interface {
	daemon.Broker
	Close() error
	Up() bool
	Restart()
}

// newBroker builds the configured broker, nil for memory, and the function
// that starts it once the node exists. Redis's history sizes come from the
// node's channel settings, read when the broker needs them.
func (s *Server) newBroker() (brokerLink, func(*daemon.Node), error) {
	c := s.cfg.Broker
	switch c.Type {
	case "redis":
		o := s.redisOptions()
		if len(c.Redis.Shards) > 0 {
			b, err := redisbroker.NewSharded(c.Redis.Shards, o)
			if err != nil {
				return nil, nil, err
			}
			return b, func(n *daemon.Node) { b.Start(n) }, nil
		}
		b, err := redisbroker.New(o)
		if err != nil {
			return nil, nil, err
		}
		return b, func(n *daemon.Node) { b.Start(n) }, nil
	case "nats":
		b, err := natsbroker.New(natsbroker.Options{
			URL:               c.NATS.URL,
			Prefix:            c.NATS.Prefix,
			Stream:            c.NATS.Stream,
			MaxPerChannel:     maxHistorySize(s.cfg),
			MaxAge:            s.cfg.History.TTL,
			IdempotencyWindow: s.cfg.Idempotency.Window,
			Logger:            s.log.Named("broker"),
		})
		if err != nil {
			return nil, nil, err
		}
		return b, func(n *daemon.Node) { b.Start(n) }, nil
	}
	return nil, nil, nil
}

// maxHistorySize is the largest history.size of any channel class: the
// NATS stream's limit per channel is one for all.
func maxHistorySize(cfg config.Config) int {
	n := cfg.History.Size
	for _, c := range cfg.Channels {
		if c.HistorySize != nil {
			n = max(n, *c.HistorySize)
		}
	}
	return max(n, 1)
}

func (s *Server) redisOptions() redisbroker.Options {
	c := s.cfg.Broker
	var cluster []string
	if c.Redis.Cluster {
		cluster = []string{c.Redis.Address}
	}
	return redisbroker.Options{
		ClusterAddrs:   cluster,
		Addr:           c.Redis.Address,
		Password:       c.Redis.Password,
		SentinelMaster: c.Redis.SentinelMaster,
		SentinelAddrs:  c.Redis.SentinelAddresses,
		Prefix:         c.Redis.Prefix,
		History: func(channel string) (int, time.Duration) {
			o := s.node.ChannelOptions(channel)
			return o.HistorySize, o.HistoryTTL
		},
		IdempotencyWindow: s.cfg.Idempotency.Window,
		Logger:            s.log.Named("broker"),
		Now:               s.now,
	}
}

func (s *Server) closeBroker() {
	if s.broker != nil {
		if err := s.broker.Close(); err != nil {
			s.log.Warn("closing the broker", zap.Error(err))
		}
	}
}

// brokerProbeEvery is how often Run proves the broker link end to end.
const brokerProbeEvery = 5 * time.Second

// watchBroker proves the broker link end to end until ctx ends: an event
// published through the broker to a private channel must come back. A link
// that is up but delivers nothing fails the probe and is restarted.
func (s *Server) watchBroker(ctx context.Context) {
	every(ctx, brokerProbeEvery, func() {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := s.ops.ProbeHub(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil
		if was := s.brokerOK.Swap(ok); was != ok || !ok {
			if ok {
				s.log.Info("broker link proven again")
			} else {
				s.log.Warn("broker probe failed; restarting the link", zap.Error(err),
					zap.String("broker_says", s.brokerNotReady()))
				s.broker.Restart()
			}
		}
	})
}

// every runs f each period until ctx ends: Run's periodic work (the broker
// probe, the status events).
func every(ctx context.Context, period time.Duration, f func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// brokerNotReady is the broker's own word on why it is not ready (such as
// Redis's "NOAUTH" or "LOADING" answer), when it says: for /readyz and the
// probe's log line.
func (s *Server) brokerNotReady() string {
	if r, ok := s.broker.(interface{ NotReady() string }); ok {
		return r.NotReady()
	}
	return ""
}

// BrokerUp reports whether the broker link is confirmed and its last
// end-to-end probe passed; always true with the in-memory broker. For
// readiness.
func (s *Server) BrokerUp() bool {
	return s.broker == nil || (s.broker.Up() && s.brokerOK.Load())
}
