package redisbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"go.uber.org/zap"
)

var _ daemon.PresenceBroker = (*Broker)(nil)

// Presence across nodes: each channel's subscribers are fields of the hash
// {p}:pr:{channel}, keyed by connection id, and name the node (this
// Broker's id) they are on. A node proves it is alive by refreshing
// {p}:node:{id} (nodeTTL, every nodeRefresh); entries of a node whose key
// is gone (it crashed) are left out of Presence and deleted there.
const (
	nodeTTL     = 30 * time.Second
	nodeRefresh = 10 * time.Second
)

// SetPresence implements daemon.PresenceBroker.
func (b *Broker) SetPresence(ctx context.Context, channel string, c daemon.Client, present bool) error {
	key := b.key("pr", channel)
	if !present {
		return b.rdb.HDel(ctx, key, c.ConnectionID).Err()
	}
	c.Node = b.nodeID
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return b.rdb.HSet(ctx, key, c.ConnectionID, v).Err()
}

// Presence implements daemon.PresenceBroker.
func (b *Broker) Presence(ctx context.Context, channel string) ([]daemon.Client, error) {
	key := b.key("pr", channel)
	all, err := b.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("redis presence: %w", err)
	}
	alive := map[string]bool{b.nodeID: true}
	out := make([]daemon.Client, 0, len(all))
	for id, v := range all {
		var c daemon.Client
		if json.Unmarshal([]byte(v), &c) != nil {
			continue
		}
		up, seen := alive[c.Node]
		if !seen {
			n, err := b.rdb.Exists(ctx, b.key("node", c.Node)).Result()
			if err != nil {
				return nil, fmt.Errorf("redis presence: %w", err)
			}
			up = n == 1
			alive[c.Node] = up
		}
		if !up {
			b.rdb.HDel(ctx, key, id) // a crashed node's subscriber
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// heartbeat keeps this node's key alive until ctx ends, then deletes it so
// that its presence entries vanish at once.
func (b *Broker) heartbeat(ctx context.Context) {
	key := b.key("node", b.nodeID)
	t := time.NewTicker(nodeRefresh)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := b.rdb.Set(rctx, key, "1", nodeTTL).Err(); err != nil && ctx.Err() == nil {
			b.log.Warn("node heartbeat failed", zap.Error(err))
		}
		cancel()
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), time.Second)
			b.rdb.Del(dctx, key)
			cancel()
			return
		case <-t.C:
		}
	}
}
