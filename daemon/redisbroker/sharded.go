package redisbroker

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"

	"github.com/fanoutd/fanoutd/daemon"
)

// Sharded spreads channels over several Redis servers: each channel lives
// on one shard, chosen by rendezvous hashing of its name, so that adding a
// shard moves only the channels it wins. A channel's positions, history
// and pub/sub stay on its shard; a shard that is down fails only its own
// channels. Every node must list the same shards.
type Sharded struct {
	shards []*Broker
	addrs  []string // the hashing key of each shard
}

var _ daemon.Broker = (*Sharded)(nil)

// NewSharded returns a broker over one Broker per address; o.Addr and
// o.Client are ignored.
func NewSharded(addrs []string, o Options) (*Sharded, error) {
	if len(addrs) == 0 {
		return nil, errors.New("redisbroker: no shard addresses")
	}
	s := &Sharded{addrs: addrs}
	for _, a := range addrs {
		so := o
		so.Addr, so.Client = a, nil
		b, err := New(so)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		s.shards = append(s.shards, b)
	}
	return s, nil
}

// shard is the channel's Broker: the address with the highest hash of
// (address, channel).
func (s *Sharded) shard(channel string) *Broker {
	best, bestScore := 0, uint64(0)
	for i, a := range s.addrs {
		h := fnv.New64a()
		_, _ = h.Write([]byte(channel))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(a))
		if score := mix(h.Sum64()); i == 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return s.shards[best]
}

// Start starts every shard with h.
func (s *Sharded) Start(h Handler) {
	for _, b := range s.shards {
		b.Start(h)
	}
}

// Close closes every shard.
func (s *Sharded) Close() error {
	var errs []error
	for _, b := range s.shards {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// Up reports whether every shard's link is confirmed.
func (s *Sharded) Up() bool {
	for _, b := range s.shards {
		if !b.Up() {
			return false
		}
	}
	return true
}

// NotReady joins what the shards say about why they are not ready.
func (s *Sharded) NotReady() string {
	var whys []string
	for i, b := range s.shards {
		if w := b.NotReady(); w != "" {
			whys = append(whys, s.addrs[i]+": "+w)
		}
	}
	return strings.Join(whys, "; ")
}

// Restart restarts every shard's pub/sub link.
func (s *Sharded) Restart() {
	for _, b := range s.shards {
		b.Restart()
	}
}

// Publish implements daemon.Broker.
func (s *Sharded) Publish(ctx context.Context, channel, eventType string, payload []byte, key string) (uint64, string, bool, error) {
	return s.shard(channel).Publish(ctx, channel, eventType, payload, key)
}

// Subscribe implements daemon.Broker.
func (s *Sharded) Subscribe(ctx context.Context, channel string) (uint64, string, error) {
	return s.shard(channel).Subscribe(ctx, channel)
}

// Unsubscribe implements daemon.Broker.
func (s *Sharded) Unsubscribe(ctx context.Context, channel string) error {
	return s.shard(channel).Unsubscribe(ctx, channel)
}

// Position implements daemon.Broker.
func (s *Sharded) Position(ctx context.Context, channel string) (uint64, string, error) {
	return s.shard(channel).Position(ctx, channel)
}

// History implements daemon.Broker.
func (s *Sharded) History(ctx context.Context, channel string, after uint64, epoch string) ([]daemon.BrokerEvent, bool, error) {
	return s.shard(channel).History(ctx, channel, after, epoch)
}

// mix is splitmix64's finalizer: FNV alone orders similar keys alike, and
// rendezvous hashing needs scores that look independent per shard.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

var _ daemon.PresenceBroker = (*Sharded)(nil)

// SetPresence implements daemon.PresenceBroker.
func (s *Sharded) SetPresence(ctx context.Context, channel string, c daemon.Client, present bool) error {
	return s.shard(channel).SetPresence(ctx, channel, c, present)
}

// Presence implements daemon.PresenceBroker.
func (s *Sharded) Presence(ctx context.Context, channel string) ([]daemon.Client, error) {
	return s.shard(channel).Presence(ctx, channel)
}
