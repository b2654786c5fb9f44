package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Node is one fanoutd instance's core: its hub, sessions and counters. Two
// Nodes in one process share nothing.
type Node struct {
	opts       Options // the reloadable fields are in live, not here
	live       atomic.Pointer[Settings]
	log        *zap.Logger
	hub        *hub
	idem       *idempotency
	connEvents *connEvents
	reg        *registry   // live sessions, for the control plane
	gate       handoffGate // closed by Freeze (handoff.go)
	// presenceOps feeds runPresence; nil without a PresenceBroker.
	presenceOps chan presenceOp
	lru         historyLRU
	channelIDs  atomic.Uint64
	prefix      string // makes connection ids unique across restarts and nodes
	encBufs     sync.Pool
	flushLists  sync.Pool

	nextID   atomic.Uint64
	sessions atomic.Int64
	subs     atomic.Int64

	published     atomic.Uint64
	delivered     atomic.Uint64
	dropped       atomic.Uint64
	duplicates    atomic.Uint64
	histBytes     atomic.Int64
	histEvictions atomic.Uint64
	skippedEvents atomic.Uint64
	gaps          atomic.Uint64
	compressed    atomic.Uint64 // events compressed (once each, see lazyFrame)

	subStarWarned atomic.Bool // warnSubStar logged once
}

// New returns a Node ready for Connect and Publish.
func New(opts Options) *Node {
	opts = opts.withDefaults()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	n := &Node{
		opts:   opts,
		log:    opts.Logger,
		idem:   newIdempotency(),
		prefix: hex.EncodeToString(rnd[:]) + "-",
		reg:    newRegistry(),
	}
	n.live.Store(opts.settings())
	n.hub = newHub(n.newChannel)
	n.hub.dropped = func(ch *channel) {
		if ch.linked {
			go n.unlink(ch) // a network call: not under the hub's locks
		}
	}
	n.connEvents = newConnEvents(opts.ConnEventsBuffer, n.prefix)
	if n.presenceBroker() != nil {
		n.presenceOps = make(chan presenceOp, presenceQueue)
	}
	n.encBufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	n.flushLists.New = func() any { return &flushList{} }
	return n
}

// Connect creates the session of a freshly authenticated connection and
// sends it the welcome message. The transport must route the connection's
// messages to the returned Session.
func (n *Node) Connect(t Transport, id Identity) *Session {
	return n.ConnectWith(t, id, ConnectSubscriptions{})
}

// ConnectWith is Connect for a client that named channels in its connect
// URL: the welcome says how many (url_channels), and they are subscribed
// right after it (SubscribeAll), so that their replies follow it.
func (n *Node) ConnectWith(t Transport, id Identity, cs ConnectSubscriptions) *Session {
	seq := n.nextID.Add(1)
	s := &Session{
		node:     n,
		t:        t,
		id:       n.prefixed(seq),
		subject:  id.Subject,
		patterns: n.patterns(id),
		info:     boxInfo(id.Info),
		internal: id.Internal,
		jti:      id.TokenID,
	}
	if dt, ok := t.(DeflateTransport); ok {
		s.deflate = dt.Deflate()
	}
	n.sessions.Add(1)
	n.reg.add(s, n.opts.Now())
	n.logConn(s, connEvent{typ: connConnect})
	if f := n.opts.OnConnect; f != nil && !s.internal {
		f(s.id, s.subject)
	}
	sendReply(s, n.welcome(s, id, len(cs.Channels)))
	s.setExpiry(id)
	s.SubscribeAll(cs)
	return s
}

// newChannel is a channel's first incarnation or a later one: a new
// epoch either way, since an earlier incarnation's positions are gone.
func (n *Node) newChannel(name string) *channel {
	id := n.channelIDs.Add(1)
	ch := &channel{name: name, opts: n.channelOptions(name), id: id, epoch: n.prefixed(id),
		shared: n.opts.Broker != nil}
	return ch
}

// prefixed returns the node's prefix followed by id in base 36: a
// connection id or an epoch. One allocation, where the concatenation of
// strconv.FormatUint's result (which caches no base-36 string) cost two.
func (n *Node) prefixed(id uint64) string {
	var buf [32]byte
	return string(strconv.AppendUint(append(buf[:0], n.prefix...), id, 36))
}

// patterns are the channels id may subscribe to: its own patterns, with
// "{sub}" expanded, then the public ones.
func (n *Node) patterns(id Identity) []string {
	n.warnSubStar(id.Channels)
	return append(expandPatterns(id.Channels, id.Subject), n.set().PublicChannels...)
}

// warnSubStar logs, once per node, a token pattern in which "{sub}" is
// followed directly by "*": "user:{sub}*" lets user "al" read
// "user:alice…". The issuer's mistake, not the client's, so the token still
// works as written; the pattern (never the token) is logged for the
// operator to fix the issuer: "user:{sub}:*".
func (n *Node) warnSubStar(patterns []string) {
	for _, p := range patterns {
		if strings.Contains(p, "{sub}*") && n.subStarWarned.CompareAndSwap(false, true) {
			n.log.Warn(`a token's channel pattern has "{sub}" followed by "*": it lets a user read the channels of every user whose name starts with theirs; end {sub} with a separator ("user:{sub}:*")`,
				zap.String("pattern", p))
		}
	}
}

// CheckEvent reports whether Publish would accept the event.
func (n *Node) CheckEvent(channel, eventType string, payload []byte) error {
	return n.checkEvent(channel, eventType, payload, false)
}

// PublishReserved is Publish for the daemon's own channels (under
// ReservedPrefix, which Publish refuses): the status counters, the
// watchdog's probes. Never reachable from a publisher's input.
func (n *Node) PublishReserved(ctx context.Context, channel, eventType string, payload []byte) error {
	_, err := n.publishBatch(ctx, 1, func(int) (string, string, []byte, string) { return channel, eventType, payload, "" }, nil, true)
	return err
}

// Publish delivers an event to the channel's current subscribers; it is
// PublishBatch with one event.
func (n *Node) Publish(ctx context.Context, channel, eventType string, payload []byte) error {
	_, err := n.PublishBatch(ctx, 1, func(int) (string, string, []byte, string) { return channel, eventType, payload, "" }, nil)
	return err
}

// PublishBatch publishes count events in order. event(i) returns the i-th:
// its channel, type, payload (a JSON value, or empty for none; not
// retained) and idempotency key ("" for none). Each event gets the next
// offset of its channel, is kept in the channel's history, and is queued to
// every subscriber; then each connection is flushed once, so a connection
// that gets several events of the batch gets them in one write. done, if
// not nil, is called with each event's position; duplicate reports an event
// whose key was published within the idempotency window, which is not
// published again and gets the original position. Publishes to one channel
// are delivered in the order they were made. It stops at the first invalid
// event and returns how many were published before it.
func (n *Node) PublishBatch(ctx context.Context, count int, event func(i int) (channel, eventType string, payload []byte, key string),
	done func(i int, offset uint64, epoch string, duplicate bool)) (int, error) {
	return n.publishBatch(ctx, count, event, done, false)
}

// publishBatch is PublishBatch; own allows the reserved channels.
func (n *Node) publishBatch(ctx context.Context, count int, event func(i int) (channel, eventType string, payload []byte, key string),
	done func(i int, offset uint64, epoch string, duplicate bool), own bool) (int, error) {
	if err := n.gate.enter(ctx); err != nil {
		return 0, err
	}
	defer n.gate.leave()
	if n.opts.Broker != nil {
		return n.publishBroker(ctx, count, event, done, own)
	}
	fl := n.flushLists.Get().(*flushList)
	defer n.flushLists.Put(fl)
	defer fl.flush()
	for i := range count {
		channel, eventType, payload, key := event(i)
		if err := n.checkEvent(channel, eventType, payload, own); err != nil {
			return i, err
		}
		offset, epoch, dup := n.fanout(channel, eventType, payload, key, fl)
		if done != nil {
			done(i, offset, epoch, dup)
		}
	}
	if n.histBytes.Load() > n.set().HistoryMaxBytes {
		n.evictHistory()
	}
	return count, nil
}

// fanout numbers one event, keeps it, encodes it once and queues it to
// every subscriber, collecting the connections that need a flush.
func (n *Node) fanout(channel, eventType string, payload []byte, key string, fl *flushList) (offset uint64, epoch string, dup bool) {
	ch := n.hub.lock(channel)
	now := n.opts.Now().UnixNano()
	set := n.set()
	if key != "" {
		key = idemScope(channel, key)
		if e, ok := n.idem.get(key, now, set.IdempotencyWindow.Nanoseconds()); ok {
			ch.mu.Unlock()
			n.duplicates.Add(1)
			return e.offset, e.epoch, true
		}
	}
	n.published.Add(1)
	ch.last++
	offset, epoch = ch.last, ch.epoch
	if len(ch.subs) > 0 || ch.opts.HistorySize > 0 {
		msg := n.encodeEvent(channel, eventType, payload, offset, epoch)
		n.keep(ch, msg, now)
		n.deliver(ch, msg, now, fl)
	}
	if key != "" {
		n.idem.put(key, idemEntry{offset: offset, epoch: epoch, at: now}, set.IdempotencyMaxKeys)
	}
	unused := ch.unused()
	ch.mu.Unlock()
	if unused {
		n.hub.dropIfUnused(ch)
	}
	return offset, epoch, false
}

// keep adds the event to the channel's history. Called with ch.mu held.
func (n *Node) keep(ch *channel, msg []byte, now int64) {
	o := ch.opts
	if o.HistorySize <= 0 {
		return
	}
	delta := ch.keepEntry(entry{frame: msg, offset: ch.last, at: now}, o.HistorySize)
	if o.HistoryTTL > 0 {
		delta -= ch.hist.trimOlder(now - o.HistoryTTL.Nanoseconds())
	}
	n.histBytes.Add(int64(delta))
	n.lru.touch(ch.hist.r)
}

// deliver queues msg, published at now, to every subscriber of ch, under
// the channel's slow-consumer policy. Called with ch.mu held.
func (n *Node) deliver(ch *channel, msg []byte, now int64, fl *flushList) {
	var ok, failed uint64
	policy := ch.opts.SlowConsumer
	z := lazyFrame{plain: msg, compress: n.opts.Compress != nil && ch.opts.compresses(len(msg))}
	for _, sub := range ch.subs {
		m := msg
		if sub.s.deflate && z.compress {
			m = z.get(n)
		}
		queued, first, dropped := sub.s.t.QueueEventAt(m, ch.id, policy, now)
		if dropped > 0 {
			n.skipped(sub.s, dropped, policy)
		}
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
	n.delivered.Add(ok)
	if failed > 0 {
		n.dropped.Add(failed)
	}
}

// skipped accounts for events a slow subscriber will not get, and tells it
// when its policy is drop-oldest (with latest, skipping stale values is the
// point; the offsets show it).
func (n *Node) skipped(s *Session, count, policy int) {
	n.skippedEvents.Add(uint64(count))
	if policy != PolicyDropOldest {
		return
	}
	if mt, ok := s.t.(MissedTransport); ok {
		mt.QueueMissed(count, n.missedNotice)
		return
	}
	s.t.Queue(n.opts.Frame(missedFrame(count)))
}

// missedNotice is the frame of a missed notice for total events, for
// MissedTransport.QueueMissed (a method value made once per call site is
// cheap next to the drop it reports).
func (n *Node) missedNotice(total int) []byte { return n.opts.Frame(missedFrame(total)) }

func missedFrame(count int) []byte {
	b := strconv.AppendInt([]byte(`{"type":"missed","count":`), int64(count), 10)
	return append(b, '}')
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
	Channels      int    `json:"channels"` // with subscribers or history
	Goroutines    int    `json:"goroutines"`
	Published     uint64 `json:"published"`
	Delivered     uint64 `json:"delivered"`
	Dropped       uint64 `json:"dropped"`
	// Duplicates are publishes answered from the idempotency window.
	Duplicates uint64 `json:"duplicates"`
	// HistoryBytes is the memory held by history, bounded by
	// Options.HistoryMaxBytes; HistoryEvictions counts the channel histories
	// dropped at that bound.
	HistoryBytes     int64  `json:"history_bytes"`
	HistoryEvictions uint64 `json:"history_evictions"`
	// Skipped counts events a slow subscriber did not get under the
	// drop-oldest and latest policies.
	Skipped uint64 `json:"skipped"`
	// Gaps counts breaks in a channel's sequence between nodes that could
	// not be filled from the broker's history; subscribers got "missed".
	Gaps uint64 `json:"gaps"`
	// CompressedEvents counts the events compressed for the subscribers
	// that negotiated compression: once per event, however many got it.
	CompressedEvents uint64 `json:"compressed_events"`
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

		Duplicates:       n.duplicates.Load(),
		HistoryBytes:     n.histBytes.Load(),
		HistoryEvictions: n.histEvictions.Load(),
		Skipped:          n.skippedEvents.Load(),
		Gaps:             n.gaps.Load(),
		CompressedEvents: n.compressed.Load(),
	}
}
