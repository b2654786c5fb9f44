package redisbroker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/redis/go-redis/v9"
)

// ControlBus carries the control plane's messages between nodes over a
// Redis pub/sub channel of its own ("<prefix>:control"), on its own
// connection, and keeps revocations as keys ("<prefix>:revoked:<key>")
// that Redis expires when the revocation ends. It implements the control
// package's Bus and Store without importing it.
type ControlBus struct {
	rdb    *redis.Client
	prefix string
	now    func() time.Time
}

var (
	_ daemon.HistoryClearer = (*Broker)(nil)
	_ daemon.HistoryClearer = (*Sharded)(nil)
)

// Control returns the broker's control bus; every node on the same Redis
// and prefix hears the others.
func (b *Broker) Control() *ControlBus {
	return &ControlBus{rdb: b.rdb, prefix: b.opts.Prefix, now: b.opts.Now}
}

// Control is the first shard's control bus: control messages and
// revocations are few and need one place that every node agrees on.
func (s *Sharded) Control() *ControlBus { return s.shards[0].Control() }

func (c *ControlBus) channel() string { return c.prefix + ":control" }

// Send publishes msg to every node's Receive.
func (c *ControlBus) Send(ctx context.Context, msg []byte) error {
	if err := c.rdb.Publish(ctx, c.channel(), msg).Err(); err != nil {
		return fmt.Errorf("redis control send: %w", err)
	}
	return nil
}

// controlBuffer is how many control messages may wait for the receiver.
const controlBuffer = 1024

// Receive subscribes and hands each message to f until ctx ends. go-redis
// resubscribes by itself after a broken link; messages sent meanwhile are
// lost (pub/sub is at-most-once), which the sender sees as a node that did
// not answer.
func (c *ControlBus) Receive(ctx context.Context, f func([]byte)) error {
	for ctx.Err() == nil {
		ps := c.rdb.Subscribe(ctx, c.channel())
		if _, err := ps.Receive(ctx); err != nil {
			_ = ps.Close()
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		c.read(ctx, ps, f)
		_ = ps.Close()
	}
	return nil
}

func (c *ControlBus) read(ctx context.Context, ps *redis.PubSub, f func([]byte)) {
	ch := ps.Channel(redis.WithChannelSize(controlBuffer))
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			f([]byte(m.Payload))
		}
	}
}

func (c *ControlBus) revokedKey(key string) string { return c.prefix + ":revoked:" + key }

// PutRevocation keeps key until until (Redis expires it then); an end
// already past deletes it.
func (c *ControlBus) PutRevocation(ctx context.Context, key string, until time.Time) error {
	k := c.revokedKey(key)
	if !until.After(c.now()) {
		return c.rdb.Del(ctx, k).Err()
	}
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, k, strconv.FormatInt(until.UnixMilli(), 10), 0)
		p.PExpireAt(ctx, k, until)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis revocation: %w", err)
	}
	return nil
}

// Revocations returns the kept revocations.
func (c *ControlBus) Revocations(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	prefix := c.revokedKey("")
	iter := c.rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("redis revocations: %w", err)
	}
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis revocations: %w", err)
	}
	for i, v := range vals {
		s, _ := v.(string)
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue // expired between SCAN and MGET
		}
		out[strings.TrimPrefix(keys[i], prefix)] = time.UnixMilli(ms)
	}
	return out, nil
}

// ClearHistory drops the channel's stored events and keeps its position:
// a client resuming from before gets recovered:false.
func (b *Broker) ClearHistory(ctx context.Context, channel string) error {
	if err := b.rdb.Del(ctx, b.key("s", channel)).Err(); err != nil {
		return fmt.Errorf("redis clear history: %w", err)
	}
	return nil
}

// ClearHistory clears the channel's history on its shard.
func (s *Sharded) ClearHistory(ctx context.Context, channel string) error {
	return s.shard(channel).ClearHistory(ctx, channel)
}
