package natsbroker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ControlBus carries the control plane's messages between nodes on a core
// NATS subject ("<prefix>.control") and keeps revocations in a JetStream
// key-value bucket ("<stream>_REVOKED"), each entry holding its end; the
// plane ignores ended entries and they are deleted when read. It
// implements the control package's Bus and Store without importing it.
type ControlBus struct {
	b   *Broker
	now func() time.Time

	mu sync.Mutex
	kv jetstream.KeyValue // created on first use: the server may be down at New
}

var _ daemon.HistoryClearer = (*Broker)(nil)

// Control returns the broker's control bus.
func (b *Broker) Control() *ControlBus { return &ControlBus{b: b, now: time.Now} }

func (c *ControlBus) subject() string { return c.b.opts.Prefix + ".control" }

// Send publishes msg to every node's Receive.
func (c *ControlBus) Send(ctx context.Context, msg []byte) error {
	if err := c.b.nc.Publish(c.subject(), msg); err != nil {
		return fmt.Errorf("nats control send: %w", err)
	}
	if err := c.b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("nats control send: %w", err)
	}
	return nil
}

// Receive hands each message to f (from the subscription's one delivery
// goroutine) until ctx ends.
func (c *ControlBus) Receive(ctx context.Context, f func([]byte)) error {
	sub, err := c.b.nc.Subscribe(c.subject(), func(m *nats.Msg) { f(m.Data) })
	if err != nil {
		return fmt.Errorf("nats control receive: %w", err)
	}
	_ = c.b.nc.FlushWithContext(ctx) // the server has the subscription before the first hello
	<-ctx.Done()
	return sub.Unsubscribe()
}

func (c *ControlBus) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kv != nil {
		return c.kv, nil
	}
	kv, err := c.b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: c.b.opts.Stream + "_REVOKED", History: 1})
	if err != nil {
		return nil, fmt.Errorf("nats revocations: %w", err)
	}
	c.kv = kv
	return kv, nil
}

// kvKey makes any revocation key a valid NATS key.
func kvKey(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// PutRevocation keeps key until until; an end already past deletes it.
func (c *ControlBus) PutRevocation(ctx context.Context, key string, until time.Time) error {
	kv, err := c.bucket(ctx)
	if err != nil {
		return err
	}
	if !until.After(c.now()) {
		if err := kv.Delete(ctx, kvKey(key)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("nats revocation: %w", err)
		}
		return nil
	}
	if _, err := kv.Put(ctx, kvKey(key), []byte(strconv.FormatInt(until.UnixMilli(), 10))); err != nil {
		return fmt.Errorf("nats revocation: %w", err)
	}
	return nil
}

// Revocations returns the revocations in force, deleting ended ones.
func (c *ControlBus) Revocations(ctx context.Context) (map[string]time.Time, error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nats revocations: %w", err)
	}
	now := c.now()
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		ms, _ := strconv.ParseInt(string(e.Value()), 10, 64)
		name, _ := base64.RawURLEncoding.DecodeString(k)
		if until := time.UnixMilli(ms); until.After(now) {
			out[string(name)] = until
		} else {
			_ = kv.Delete(ctx, k)
		}
	}
	return out, nil
}

// ClearHistory purges the channel's stored events but the last, which
// carries the channel's position: a client resuming from before it gets
// recovered:false.
func (b *Broker) ClearHistory(ctx context.Context, channel string) error {
	s, _, err := b.stream(ctx)
	if err != nil {
		return err
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(b.subject(channel)), jetstream.WithPurgeKeep(1)); err != nil {
		return fmt.Errorf("nats clear history: %w", err)
	}
	return nil
}
