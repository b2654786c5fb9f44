package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Node is one fanoutd instance's core: its hub, sessions and counters. Two
// Nodes in one process share nothing.
type Node struct {
	opts       Options
	log        *zap.Logger
	hub        *hub
	expiries   *expiries
	prefix     string // makes connection ids unique across restarts and nodes
	encBufs    sync.Pool
	flushLists sync.Pool

	nextID   atomic.Uint64
	sessions atomic.Int64
	subs     atomic.Int64

	published atomic.Uint64
	delivered atomic.Uint64
	dropped   atomic.Uint64
}

// New returns a Node ready for Connect and Publish.
func New(opts Options) *Node {
	opts = opts.withDefaults()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	n := &Node{
		opts:     opts,
		log:      opts.Logger,
		hub:      newHub(),
		expiries: newExpiries(),
		prefix:   hex.EncodeToString(rnd[:]) + "-",
	}
	n.encBufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	n.flushLists.New = func() any { return &flushList{} }
	return n
}

// Connect creates the session of a freshly authenticated connection and
// sends it the welcome message. The transport must route the connection's
// messages to the returned Session.
func (n *Node) Connect(t Transport, id Identity) *Session {
	seq := n.nextID.Add(1)
	s := &Session{
		node:     n,
		t:        t,
		id:       n.prefix + strconv.FormatUint(seq, 36),
		seq:      seq,
		subject:  id.Subject,
		patterns: n.patterns(id),
		tokens:   2 * float64(n.opts.CommandsPerSecond),
		refilled: n.opts.Now().UnixNano(),
	}
	n.sessions.Add(1)
	s.send(n.welcome(s, id))
	s.setExpiry(id)
	return s
}

// patterns are the channels id may subscribe to: its own patterns, with
// "{sub}" expanded, then the public ones.
func (n *Node) patterns(id Identity) []string {
	return append(expandPatterns(id.Channels, id.Subject), n.opts.PublicChannels...)
}

// CheckEvent reports whether Publish would accept the event.
func (n *Node) CheckEvent(channel, eventType string, payload []byte) error {
	return n.checkEvent(channel, eventType, payload)
}

// Publish delivers an event to the channel's current subscribers; it is
// PublishBatch with one event.
func (n *Node) Publish(ctx context.Context, channel, eventType string, payload []byte) error {
	_, err := n.PublishBatch(ctx, 1, func(int) (string, string, []byte) { return channel, eventType, payload })
	return err
}

// PublishBatch delivers count events, in order, to their channels' current
// subscribers. event(i) returns the i-th event; payload is a JSON value, or
// empty for none, and is not retained. Every event is queued to every
// subscriber first, then each connection is flushed once: a connection that
// gets several events of the batch gets them in one write. Publishes to one
// channel are delivered in the order they were made. It stops at the first
// invalid event and returns how many were published before it. A subscriber
// whose queue is full is closed by its transport (slow consumer) and counted
// as dropped.
func (n *Node) PublishBatch(_ context.Context, count int, event func(i int) (channel, eventType string, payload []byte)) (int, error) {
	fl := n.flushLists.Get().(*flushList)
	defer n.flushLists.Put(fl)
	defer fl.flush()
	for i := range count {
		channel, eventType, payload := event(i)
		if err := n.checkEvent(channel, eventType, payload); err != nil {
			return i, err
		}
		n.fanout(channel, eventType, payload, fl)
	}
	return count, nil
}

// fanout encodes one event once and queues it to every subscriber,
// collecting the connections that need a flush.
func (n *Node) fanout(channel, eventType string, payload []byte, fl *flushList) {
	n.published.Add(1)
	ch := n.hub.lookup(channel)
	if ch == nil {
		return
	}
	var ok, failed uint64
	ch.mu.Lock()
	var msg []byte
	if len(ch.subs) > 0 {
		msg = n.encodeEvent(channel, eventType, payload)
	}
	for _, sub := range ch.subs {
		queued, first := sub.s.t.Queue(msg)
		switch {
		case !queued:
			failed++
		case first:
			fl.ts = append(fl.ts, sub.s.t)
			fallthrough
		default:
			ok++
		}
	}
	ch.mu.Unlock()
	n.delivered.Add(ok)
	if failed > 0 {
		n.dropped.Add(failed)
	}
}

// flushList collects the transports a publish must flush; pooled, so a
// fan-out to thousands allocates nothing once warm.
type flushList struct{ ts []Transport }

func (f *flushList) flush() {
	for i, t := range f.ts {
		t.Flush()
		f.ts[i] = nil
	}
	f.ts = f.ts[:0]
}

// Stats is a snapshot of the node's counters.
type Stats struct {
	Connections   int64  `json:"connections"`
	Subscriptions int64  `json:"subscriptions"`
	Channels      int    `json:"channels"`
	Goroutines    int    `json:"goroutines"`
	Published     uint64 `json:"published"`
	Delivered     uint64 `json:"delivered"`
	Dropped       uint64 `json:"dropped"`
}

// Stats returns the node's counters; Goroutines is the whole process's.
func (n *Node) Stats() Stats {
	return Stats{
		Connections:   n.sessions.Load(),
		Subscriptions: n.subs.Load(),
		Channels:      n.hub.channels(),
		Goroutines:    runtime.NumGoroutine(),
		Published:     n.published.Load(),
		Delivered:     n.delivered.Load(),
		Dropped:       n.dropped.Load(),
	}
}
