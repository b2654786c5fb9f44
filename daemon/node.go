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
	opts    Options
	log     *zap.Logger
	hub     *hub
	prefix  string // makes connection ids unique across restarts and nodes
	encBufs sync.Pool

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
		opts:   opts,
		log:    opts.Logger,
		hub:    newHub(),
		prefix: hex.EncodeToString(rnd[:]) + "-",
	}
	n.encBufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return n
}

// Connect creates the session of a freshly authenticated connection and
// sends it the welcome message. The transport must route the connection's
// messages to the returned Session.
func (n *Node) Connect(t Transport, id Identity) *Session {
	s := &Session{
		node:     n,
		t:        t,
		id:       n.prefix + strconv.FormatUint(n.nextID.Add(1), 36),
		subject:  id.Subject,
		patterns: expandPatterns(id.Channels, id.Subject),
	}
	n.sessions.Add(1)
	s.send(n.welcome(s))
	return s
}

// CheckEvent reports whether Publish would accept the event.
func (n *Node) CheckEvent(channel, eventType string, payload []byte) error {
	return n.checkEvent(channel, eventType, payload)
}

// Publish delivers an event to the channel's current subscribers. payload
// is a JSON value, or empty for none; it is not retained. Publishes to one
// channel are delivered in the order Publish was called. A subscriber whose
// queue is full is closed by its transport (slow consumer) and counted as
// dropped.
func (n *Node) Publish(_ context.Context, channel, eventType string, payload []byte) error {
	if err := n.checkEvent(channel, eventType, payload); err != nil {
		return err
	}
	n.published.Add(1)
	ch := n.hub.lookup(channel)
	if ch == nil {
		return nil
	}
	var msg []byte
	var ok, failed uint64
	ch.mu.Lock()
	if len(ch.subs) > 0 {
		msg = n.encodeEvent(channel, eventType, payload)
	}
	for _, sub := range ch.subs {
		if sub.s.t.Send(msg) {
			ok++
		} else {
			failed++
		}
	}
	ch.mu.Unlock()
	n.delivered.Add(ok)
	if failed > 0 {
		n.dropped.Add(failed)
	}
	return nil
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
