package redisbroker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/redis/go-redis/v9"
)

// ControlBus carries the control plane's messages between nodes over a
// Redis pub/sub channel of its own ("<prefix>:control"), on its own
// connection, and keeps revocations in one hash ("<prefix>:revoked", field
// = revoked key, value = its end), whose ended fields are dropped when read.
// It implements the control package's Bus and Store without importing it.
type ControlBus struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
	// sharded reports whether the broker's channels use sharded pub/sub
	// (a Redis Cluster on Redis 7): the control channel does too, so that
	// a control message goes to one master, not across the cluster bus.
	sharded func() bool
}

var (
	_ daemon.HistoryClearer = (*Broker)(nil)
	_ daemon.HistoryClearer = (*Sharded)(nil)
)

// Control returns the broker's control bus; every node on the same Redis
// and prefix hears the others.
func (b *Broker) Control() *ControlBus {
	return &ControlBus{rdb: b.rdb, prefix: b.opts.Prefix, now: b.opts.Now, sharded: b.sharded}
}

// Control is the first shard's control bus: control messages and
// revocations are few and need one place that every node agrees on.
func (s *Sharded) Control() *ControlBus { return s.shards[0].Control() }

func (c *ControlBus) channel() string { return c.prefix + ":control" }

// Send publishes msg to every node's Receive.
func (c *ControlBus) Send(ctx context.Context, msg []byte) error {
	send := c.rdb.Publish
	if c.sharded() {
		send = c.rdb.SPublish
	}
	if err := send(ctx, c.channel(), msg).Err(); err != nil {
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
		subscribe := c.rdb.Subscribe
		if c.sharded() {
			subscribe = c.rdb.SSubscribe
		}
		ps := subscribe(ctx, c.channel())
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

// revokedKey is the hash holding every revocation, field = the revoked key,
// value = its end in Unix milliseconds. One key, so that on a Redis Cluster
// it lives in one slot and is read in one call (SCAN and a multi-key MGET
// do not span a cluster's masters).
func (c *ControlBus) revokedKey() string { return c.prefix + ":revoked" }

// PutRevocation keeps key until until; an end already past deletes it.
// Fields outlive their end in Redis (a hash's fields do not expire before
// Redis 7.4): Revocations skips and deletes the ended ones.
func (c *ControlBus) PutRevocation(ctx context.Context, key string, until time.Time) error {
	var err error
	if !until.After(c.now()) {
		err = c.rdb.HDel(ctx, c.revokedKey(), key).Err()
	} else {
		err = c.rdb.HSet(ctx, c.revokedKey(), key, strconv.FormatInt(until.UnixMilli(), 10)).Err()
	}
	if err != nil {
		return fmt.Errorf("redis revocation: %w", err)
	}
	return nil
}

// Revocations returns the revocations in force, and forgets ended ones.
func (c *ControlBus) Revocations(ctx context.Context) (map[string]time.Time, error) {
	all, err := c.rdb.HGetAll(ctx, c.revokedKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis revocations: %w", err)
	}
	out := make(map[string]time.Time, len(all))
	now := c.now()
	var ended []string
	for k, v := range all {
		ms, err := strconv.ParseInt(v, 10, 64)
		if until := time.UnixMilli(ms); err == nil && until.After(now) {
			out[k] = until
		} else {
			ended = append(ended, k)
		}
	}
	if len(ended) > 0 {
		_ = c.rdb.HDel(ctx, c.revokedKey(), ended...).Err() // best effort: the next read skips them again
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
