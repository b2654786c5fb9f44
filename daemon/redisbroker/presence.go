package redisbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/redis/go-redis/v9"
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
		b.presence.forget(key, c.ConnectionID)
		return b.rdb.HDel(ctx, key, c.ConnectionID).Err()
	}
	c.Node = b.nodeID
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	b.presence.remember(key, c.ConnectionID, v)
	return b.rdb.HSet(ctx, key, c.ConnectionID, v).Err()
}

// ownPresence is this node's presence entries, kept to write them again
// when Redis lost them (heartbeat): key -> connection id -> entry.
type ownPresence struct {
	mu sync.Mutex
	m  map[string]map[string][]byte
}

func (p *ownPresence) remember(key, id string, v []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]map[string][]byte{}
	}
	if p.m[key] == nil {
		p.m[key] = map[string][]byte{}
	}
	p.m[key][id] = v
}

func (p *ownPresence) forget(key, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m[key], id)
	if len(p.m[key]) == 0 {
		delete(p.m, key)
	}
}

// restore writes every entry again.
func (p *ownPresence) restore(ctx context.Context, rdb redis.UniversalClient) error {
	p.mu.Lock()
	all := make(map[string][]any, len(p.m))
	for key, entries := range p.m {
		for id, v := range entries {
			all[key] = append(all[key], id, v)
		}
	}
	p.mu.Unlock()
	var errs []error
	for key, fields := range all {
		errs = append(errs, rdb.HSet(ctx, key, fields...).Err())
	}
	return errors.Join(errs...)
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
	t := time.NewTicker(b.nodeRefresh)
	defer t.Stop()
	first := true
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		// SET … GET: a key that was missing (other than the first time)
		// means Redis lost this node's keys: write its presence again.
		// The first time too, quietly: presence written before this
		// first SET may have been lost already.
		err := b.rdb.SetArgs(rctx, key, "1", redis.SetArgs{TTL: nodeTTL, Get: true}).Err()
		if errors.Is(err, redis.Nil) {
			if !first {
				b.log.Warn("Redis lost this node's keys; writing its presence again")
			}
			err = b.presence.restore(rctx, b.rdb)
		}
		if err != nil && ctx.Err() == nil {
			b.log.Warn("node heartbeat failed", zap.Error(err))
		}
		if err == nil {
			first = false
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
