package fanoutd

import (
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/redisbroker"
	"go.uber.org/zap"
)

// brokerLink is a started broker the server must close.
type brokerLink interface {
	daemon.Broker
	Start(redisbroker.Handler)
	Close() error
	Up() bool
}

// newBroker builds the configured broker, nil for memory. History sizes
// come from the node's channel settings, read when the broker needs them
// (the node is built after the broker).
func (s *Server) newBroker() (brokerLink, error) {
	c := s.cfg.Broker
	if c.Type != "redis" {
		return nil, nil
	}
	return redisbroker.New(redisbroker.Options{
		Addr:     c.Redis.Address,
		Password: c.Redis.Password,
		Prefix:   c.Redis.Prefix,
		History: func(channel string) (int, time.Duration) {
			o := s.node.ChannelOptions(channel)
			return o.HistorySize, o.HistoryTTL
		},
		IdempotencyWindow: s.cfg.Idempotency.Window,
		Logger:            s.log.Named("broker"),
		Now:               s.now,
	})
}

func (s *Server) closeBroker() {
	if s.broker != nil {
		if err := s.broker.Close(); err != nil {
			s.log.Warn("closing the broker", zap.Error(err))
		}
	}
}
