package natsbroker

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Subscribe implements daemon.Broker: the node listens on the channel's
// live subject, where the stream republishes each event once stored.
// Flush makes sure the server has the subscription before the position is
// read, so every event stored after that position is received.
func (b *Broker) Subscribe(ctx context.Context, channel string) (uint64, string, error) {
	b.mu.Lock()
	b.refs[channel]++
	if b.refs[channel] == 1 {
		sub, err := b.nc.Subscribe(b.liveSubject(channel), func(m *nats.Msg) { b.deliver(channel, m) })
		if err != nil {
			b.undoLocked(channel)
			b.mu.Unlock()
			return 0, "", fmt.Errorf("nats subscribe: %w", err)
		}
		b.subs[channel] = sub
	}
	b.mu.Unlock()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		_ = b.Unsubscribe(ctx, channel)
		return 0, "", fmt.Errorf("nats subscribe: %w", err)
	}
	offset, epoch, err := b.Position(ctx, channel)
	if err != nil {
		_ = b.Unsubscribe(ctx, channel)
	}
	return offset, epoch, err
}

// deliver runs on the subscription's goroutine (nats.go delivers one
// subscription's messages in order): the stream's order for the channel.
// A message that does not parse is not delivered; the node sees the gap in
// the offsets and fills it from history or says it was missed.
func (b *Broker) deliver(channel string, m *nats.Msg) {
	b.mu.Lock()
	h := b.h
	b.mu.Unlock()
	if h == nil {
		return
	}
	evs, err := unpack(nil, m.Header, m.Data)
	if err != nil {
		b.log.Warn("unreadable event from NATS", zap.String("subject", m.Subject), zap.Error(err))
		return
	}
	for _, ev := range evs {
		h.Deliver(channel, ev)
	}
}

// Unsubscribe implements daemon.Broker.
func (b *Broker) Unsubscribe(_ context.Context, channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.undoLocked(channel)
}

func (b *Broker) undoLocked(channel string) error {
	if b.refs[channel]--; b.refs[channel] > 0 {
		return nil
	}
	delete(b.refs, channel)
	sub := b.subs[channel]
	delete(b.subs, channel)
	if sub == nil {
		return nil
	}
	return sub.Unsubscribe()
}
