package redisbroker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// clusterLinks is the pub/sub side in a Redis Cluster: sharded pub/sub
// (SSUBSCRIBE, and SPUBLISH in the publish script), which Redis keeps
// within the shard that holds the channel's slot instead of sending every
// message over the cluster bus to every node. A shard channel can only be
// read on its slot's master, so there is one link (a PubSub pinned to one
// node) per master in use, each with its own receiving goroutine; a
// channel is on one link at a time, so its events stay in order.
//
// When a slot moves (a failover, a resharding) Redis unsubscribes the
// channel (sunsubscribe) on the old master; the channel then moves to the
// slot's new master, and once Redis confirms, the node catches up from the
// streams (Resync). A link whose node fails moves its channels the same
// way once the cluster says where their slots went.
//
// Lock order: clusterLinks.mu, then Broker.mu; neither is held across a
// Redis call.
type clusterLinks struct {
	b   *Broker
	h   Handler
	ctx context.Context
	wg  sync.WaitGroup

	mu     sync.Mutex
	byAddr map[string]*clusterLink
	byChan map[string]*clusterLink // the link each channel is subscribed on
}

type clusterLink struct {
	addr   string
	ps     *redis.PubSub
	resync bool       // catch up on the first confirmation (made to replace another)
	moving sync.Mutex // one rehome at a time
}

func newClusterLinks(b *Broker) *clusterLinks {
	return &clusterLinks{b: b, byAddr: map[string]*clusterLink{}, byChan: map[string]*clusterLink{}}
}

func (l *clusterLinks) start(ctx context.Context, h Handler) { l.ctx, l.h = ctx, h }

// subscribe subscribes channel on its slot master's link.
func (l *clusterLinks) subscribe(ctx context.Context, channel string, resync bool) error {
	k, err := l.linkFor(ctx, channel, resync)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.byChan[channel] = k
	l.mu.Unlock()
	return k.ps.SSubscribe(ctx, l.b.key("c", channel))
}

// linkFor returns the link to channel's slot master, made if needed.
func (l *clusterLinks) linkFor(ctx context.Context, channel string, resync bool) (*clusterLink, error) {
	m, err := l.b.cluster.MasterForKey(ctx, l.b.key("m", channel))
	if err != nil {
		return nil, err
	}
	addr := m.Options().Addr
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := l.byAddr[addr]; k != nil {
		return k, nil
	}
	k := &clusterLink{addr: addr, ps: m.SSubscribe(l.ctx), resync: resync}
	l.byAddr[addr] = k
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.receive(k) }()
	return k, nil
}

// forget drops channel after a subscribe that failed.
func (l *clusterLinks) forget(channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byChan, channel)
}

// unsubscribe undoes subscribe.
func (l *clusterLinks) unsubscribe(ctx context.Context, channel string) error {
	l.mu.Lock()
	k := l.byChan[channel]
	delete(l.byChan, channel)
	l.mu.Unlock()
	if k == nil {
		return nil
	}
	return k.ps.SUnsubscribe(ctx, l.b.key("c", channel))
}

// restart replaces every link with a new one subscribed to the same
// channels; the node catches up once each confirms.
func (l *clusterLinks) restart() {
	l.mu.Lock()
	old := l.byAddr
	chans := make([]string, 0, len(l.byChan))
	for ch := range l.byChan {
		chans = append(chans, ch)
	}
	l.byAddr, l.byChan = map[string]*clusterLink{}, map[string]*clusterLink{}
	l.mu.Unlock()
	for _, k := range old {
		_ = k.ps.Close()
	}
	for _, ch := range chans {
		ctx, cancel := context.WithTimeout(l.ctx, l.b.opts.Timeout)
		if err := l.subscribe(ctx, ch, true); err != nil {
			l.b.noteErr(err)
			l.b.log.Warn("cluster link: resubscribing failed; the next probe retries", zap.String("channel", ch), zap.Error(err))
		}
		cancel()
	}
}

// close closes every link and waits for their goroutines.
func (l *clusterLinks) close() error {
	l.mu.Lock()
	var errs []error
	for _, k := range l.byAddr {
		errs = append(errs, k.ps.Close())
	}
	l.mu.Unlock()
	l.wg.Wait()
	return errors.Join(errs...)
}

// receive reads one link until it is closed.
func (l *clusterLinks) receive(k *clusterLink) {
	b := l.b
	broken := k.resync
	for {
		msg, err := k.ps.Receive(l.ctx)
		if l.ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
			return
		}
		if err != nil {
			if !broken {
				b.log.Warn("cluster pub/sub link lost; reconnecting", zap.String("node", k.addr), zap.Error(err))
			}
			broken = true
			b.noteErr(err)
			b.setUp(false)
			l.spawn(func() { l.rehome(k) }) // its node may have lost its slots for good
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			channel := b.channelOf(m.Channel)
			switch m.Kind {
			case "ssubscribe":
				b.confirm(channel)
				b.noteErr(nil)
				if broken {
					broken = false
					b.log.Info("cluster pub/sub link up; catching up", zap.String("node", k.addr))
					l.h.Resync()
				}
			case "sunsubscribe":
				if l.on(channel, k) { // not asked for: the slot moved away
					l.spawn(func() { l.move(channel, k) })
				}
			}
		case *redis.Message:
			b.deliver(l.h, m)
		}
	}
}

// spawn runs f on a goroutine that close waits for. Called from a
// receiving goroutine, itself counted, so the count is never zero here.
func (l *clusterLinks) spawn(f func()) {
	l.wg.Add(1)
	go func() { defer l.wg.Done(); f() }()
}

// on reports whether channel is subscribed on k.
func (l *clusterLinks) on(channel string, k *clusterLink) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byChan[channel] == k
}

// rehome moves the channels of k whose slot has another master now.
func (l *clusterLinks) rehome(k *clusterLink) {
	if !k.moving.TryLock() {
		return
	}
	defer k.moving.Unlock()
	l.b.cluster.ReloadState(l.ctx)
	select { // the reload is asynchronous
	case <-l.ctx.Done():
		return
	case <-time.After(200 * time.Millisecond):
	}
	l.mu.Lock()
	var chans []string
	for ch, on := range l.byChan {
		if on == k {
			chans = append(chans, ch)
		}
	}
	l.mu.Unlock()
	for _, ch := range chans {
		m, err := l.b.cluster.MasterForKey(l.ctx, l.b.key("m", ch))
		if err == nil && m.Options().Addr != k.addr {
			l.move(ch, k)
		}
	}
}

// move subscribes channel, which Redis no longer serves on from, on its
// slot's new master, then makes the node catch up. It retries while the
// cluster's map still names the old master (for up to ~10 s).
func (l *clusterLinks) move(channel string, from *clusterLink) {
	for attempt := 0; attempt < 50 && l.ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		l.b.cluster.ReloadState(l.ctx)
		m, err := l.b.cluster.MasterForKey(l.ctx, l.b.key("m", channel))
		if err != nil || m.Options().Addr == from.addr {
			continue
		}
		if !l.on(channel, from) {
			return // unsubscribed or moved meanwhile
		}
		confirmed := l.b.await(channel)
		ctx, cancel := context.WithTimeout(l.ctx, l.b.opts.Timeout)
		err = l.subscribe(ctx, channel, false)
		if err == nil {
			select {
			case <-confirmed:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		cancel()
		if err != nil {
			continue
		}
		l.b.log.Info("channel moved to its slot's new master; catching up",
			zap.String("channel", channel), zap.String("node", m.Options().Addr))
		l.h.Resync()
		return
	}
	l.b.log.Warn("channel's slot has no reachable master; the probe will restart the links", zap.String("channel", channel))
}
