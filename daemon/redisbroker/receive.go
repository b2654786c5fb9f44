package redisbroker

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// receive reads the pub/sub link until ctx ends. go-redis reconnects a
// broken link on the next Receive and subscribes again to every channel;
// the first confirmation after a break triggers the node's Resync, so
// events published while the link was down are caught up from the streams
// before newer ones are delivered.
func (b *Broker) receive(ctx context.Context, h Handler) {
	defer close(b.done)
	broken := false
	for {
		msg, err := b.ps.Load().Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !broken {
				b.log.Warn("pub/sub link lost; reconnecting", zap.Error(err))
			}
			broken = true
			b.noteErr(err)
			b.setUp(false)
			pause := 200 * time.Millisecond
			var rerr redis.Error
			if errors.As(err, &rerr) {
				// An error reply (NOAUTH, LOADING…) leaves go-redis's
				// connection open but subscribed to nothing, and it would
				// never subscribe again: start a new link, once a second
				// while Redis keeps refusing.
				b.Restart()
				pause = time.Second
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			channel := b.channelOf(m.Channel)
			if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
				b.confirm(channel)
				b.noteErr(nil)
				if broken {
					broken = false
					b.log.Info("pub/sub link back; catching up")
					h.Resync()
				}
			}
		case *redis.Message:
			b.deliver(h, m)
		case *redis.Pong:
		}
	}
}

// confirm wakes the Subscribe calls waiting for channel.
func (b *Broker) confirm(channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up = true
	for _, w := range b.waiters[channel] {
		close(w)
	}
	delete(b.waiters, channel)
}

func (b *Broker) setUp(up bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up = up
}

// deliver hands h the event a pub/sub message carries, classic or sharded,
// noting its position as seen (the scripts' high-water mark).
func (b *Broker) deliver(h Handler, m *redis.Message) {
	ev, ok := parseMessage(m.Payload)
	if !ok {
		b.log.Warn("malformed message", zap.String("channel", m.Channel))
		return
	}
	channel := b.channelOf(m.Channel)
	b.seen.note(channel, ev.Epoch, ev.Offset)
	h.Deliver(channel, ev)
}
