package redisbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Options configure a Broker.
type Options struct {
	// Addr is the Redis server, host:port. Required unless Client,
	// ClusterAddrs or the Sentinel fields are set.
	Addr string
	// Password for AUTH, with Addr, ClusterAddrs or the Sentinel fields.
	Password string
	// SentinelMaster, with SentinelAddrs, finds the Redis master through
	// Redis Sentinel and follows its failovers (instead of Addr).
	SentinelMaster string
	SentinelAddrs  []string
	// ClusterAddrs, when set, are seed nodes of a Redis Cluster (instead
	// of Addr): a channel's keys share one hash slot ({channel} tags), and
	// its publishes go to that slot's master.
	ClusterAddrs []string
	// Client, when set, is used instead of dialling Addr (for Sentinel,
	// pass a redis.NewFailoverClient). The Broker does not close it. Its
	// MaxRetries must be -1: a retried publish may run twice.
	Client *redis.Client
	// Prefix starts every key and pub/sub channel. Default "fanoutd".
	Prefix string
	// History returns how many events a channel keeps and for how long
	// (0: no age limit); nil keeps 100 events without age limit.
	History func(channel string) (size int, ttl time.Duration)
	// IdempotencyWindow is how long a publish's idempotency key is
	// remembered. Default 5m.
	IdempotencyWindow time.Duration
	// Timeout bounds each read and write on a Redis connection. A publish
	// sent but not answered within it has an unknown outcome
	// (OutcomeUnknownError). Default 2s.
	Timeout time.Duration
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Now is the clock for history ages; nil means time.Now.
	Now func() time.Time
}

// Handler receives what the broker reads; *daemon.Node implements it.
type Handler interface {
	// Deliver is called in each channel's publish order, from the
	// broker's receiving goroutine.
	Deliver(channel string, ev daemon.BrokerEvent)
	// Resync is called after the pub/sub link came back.
	Resync()
}

// Broker is a daemon.Broker over Redis. Create it with New, hand it to
// daemon.Options.Broker, then Start it with the node.
type Broker struct {
	opts        Options
	rdb         redis.UniversalClient
	cluster     *redis.ClusterClient         // rdb, in cluster mode; nil otherwise
	owned       bool                         // rdb was dialled by New: Close closes it
	ps          atomic.Pointer[redis.PubSub] // replaced by Restart
	runCtx      context.Context
	log         *zap.Logger
	cancel      context.CancelFunc
	done        chan struct{}
	hbDone      chan struct{}
	nodeID      string // names this node in presence entries
	queue       chan *pubReq
	pending     atomic.Int64   // Publish calls not returned (linger)
	pipes       sync.WaitGroup // the pipeline goroutines
	seen        highWater
	links       *clusterLinks          // sharded pub/sub in a cluster; nil otherwise
	presence    ownPresence            // this node's presence entries, to restore
	nodeRefresh time.Duration          // how often the liveness key is refreshed
	why         atomic.Pointer[string] // the last reason the link was not up

	mu      sync.Mutex
	refs    map[string]int             // Subscribe calls per channel, not undone
	waiters map[string][]chan struct{} // Subscribe calls awaiting confirmation
	up      bool                       // the pub/sub link is confirmed
}

var _ daemon.Broker = (*Broker)(nil)

// New returns a Broker; nothing is read until Start.
func New(o Options) (*Broker, error) {
	if o.Prefix == "" {
		o.Prefix = "fanoutd"
	}
	if o.History == nil {
		o.History = func(string) (int, time.Duration) { return 100, 0 }
	}
	if o.IdempotencyWindow <= 0 {
		o.IdempotencyWindow = 5 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	b := &Broker{opts: o, log: o.Logger.Named("redis"), nodeID: newEpoch(),
		refs: map[string]int{}, waiters: map[string][]chan struct{}{}, queue: make(chan *pubReq, queueSize)}
	b.seen.init()
	b.nodeRefresh = nodeRefresh
	// MaxRetries -1 everywhere: go-redis would otherwise send a publish
	// again after a read timeout, and the script would run twice (two
	// offsets for one event). Reads are retried by the node instead.
	switch {
	case o.Client != nil:
		b.rdb = o.Client
	case len(o.ClusterAddrs) > 0:
		b.cluster = redis.NewClusterClient(&redis.ClusterOptions{Addrs: o.ClusterAddrs, Password: o.Password,
			DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, MaxRetries: -1})
		b.rdb, b.owned = b.cluster, true
		b.links = newClusterLinks(b)
	case o.SentinelMaster != "":
		b.rdb = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: o.SentinelMaster,
			SentinelAddrs: o.SentinelAddrs, Password: o.Password, DialTimeout: o.Timeout,
			ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, MaxRetries: -1})
		b.owned = true
	case o.Addr == "":
		return nil, errors.New("redisbroker: Options.Addr is required")
	default:
		b.rdb = redis.NewClient(&redis.Options{Addr: o.Addr, Password: o.Password, DialTimeout: o.Timeout,
			ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, MaxRetries: -1})
		b.owned = true
	}
	return b, nil
}

// Start begins reading the pub/sub link and handing events to h, and
// starts the publish pipelines. Call it once, before the node serves
// clients.
func (b *Broker) Start(h Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.done = make(chan struct{})
	b.runCtx = ctx
	if b.links != nil && !b.shardedPubSubAvailable(ctx) {
		b.log.Warn("Redis older than 7: classic pub/sub in the cluster (every message crosses the cluster bus)")
		b.links = nil
	}
	if b.links != nil {
		b.links.start(ctx, h)
		close(b.done)
	} else {
		b.ps.Store(b.rdb.Subscribe(ctx)) // no channels yet: Subscribe adds them
		go b.receive(ctx, h)
	}
	b.hbDone = make(chan struct{})
	go func() { defer close(b.hbDone); b.heartbeat(ctx) }()
	for range pipelines {
		b.pipes.Add(1)
		go func() { defer b.pipes.Done(); b.pipeline(ctx) }()
	}
}

// Close stops reading and releases the connections.
func (b *Broker) Close() error {
	if b.cancel != nil {
		b.cancel()
		var err error
		if b.links != nil {
			err = b.links.close()
		} else {
			err = b.ps.Load().Close()
		}
		<-b.done
		<-b.hbDone
		b.pipes.Wait()
		if b.owned {
			return errors.Join(err, b.rdb.Close())
		}
		return err
	}
	if b.owned {
		return b.rdb.Close()
	}
	return nil
}

// Up reports whether the pub/sub link is confirmed: for readiness.
func (b *Broker) Up() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.up
}

// NotReady says why the broker is not ready, "" when nothing failed
// since the last success: the last error of the link, a publish or a read,
// such as Redis's "NOAUTH", "LOADING" or "READONLY" answers, for /readyz
// and the logs.
func (b *Broker) NotReady() string {
	if w := b.why.Load(); w != nil {
		return *w
	}
	if !b.Up() {
		return "pub/sub link not confirmed yet"
	}
	return ""
}

// noteErr keeps err as the reason the broker is not ready, without
// secrets: Redis's error replies and network errors name none. A nil err
// is a success, which clears it.
func (b *Broker) noteErr(err error) {
	if err == nil {
		if b.why.Load() != nil {
			b.why.Store(nil)
		}
		return
	}
	s := err.Error()
	b.why.Store(&s)
}

// key names one of channel's keys. The {channel} hash tag puts all of a
// channel's keys in one Redis Cluster slot, as its scripts require.
func (b *Broker) key(kind, channel string) string {
	return b.opts.Prefix + ":" + kind + ":{" + channel + "}"
}

// channelOf is the channel a pub/sub channel name (key "c") is for.
func (b *Broker) channelOf(name string) string {
	name = strings.TrimPrefix(name, b.opts.Prefix+":c:{")
	return strings.TrimSuffix(name, "}")
}

// Subscribe implements daemon.Broker: it returns once Redis confirmed the
// subscription, with the position read after that.
func (b *Broker) Subscribe(ctx context.Context, channel string) (uint64, string, error) {
	b.mu.Lock()
	b.refs[channel]++
	if b.refs[channel] > 1 {
		b.mu.Unlock()
		return b.Position(ctx, channel)
	}
	confirmed := make(chan struct{})
	b.waiters[channel] = append(b.waiters[channel], confirmed)
	b.mu.Unlock()
	if err := b.subscribe(ctx, channel); err != nil {
		b.undo(channel)
		return 0, "", fmt.Errorf("redis subscribe: %w", err)
	}
	select {
	case <-confirmed:
	case <-ctx.Done():
		b.undo(channel)
		return 0, "", fmt.Errorf("redis subscribe: %w", ctx.Err())
	}
	return b.Position(ctx, channel)
}

// undo forgets a Subscribe that failed.
func (b *Broker) undo(channel string) {
	b.mu.Lock()
	last := false
	if b.refs[channel]--; b.refs[channel] <= 0 {
		delete(b.refs, channel)
		delete(b.waiters, channel)
		last = true
	}
	b.mu.Unlock()
	if last && b.links != nil {
		b.links.forget(channel)
	}
}

// Unsubscribe implements daemon.Broker.
func (b *Broker) Unsubscribe(ctx context.Context, channel string) error {
	b.mu.Lock()
	b.refs[channel]--
	last := b.refs[channel] <= 0
	if last {
		delete(b.refs, channel)
	}
	b.mu.Unlock()
	if !last {
		return nil
	}
	if b.links != nil {
		return b.links.unsubscribe(ctx, channel)
	}
	return b.ps.Load().Unsubscribe(ctx, b.key("c", channel))
}

func newEpoch() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// parseMessage splits "offset\nepoch\ntype\npayload". It runs once per
// delivered event: the strings it returns share s, and the payload is
// the one copy (the node keeps it).
func parseMessage(s string) (daemon.BrokerEvent, bool) {
	off, rest, ok1 := strings.Cut(s, "\n")
	epoch, rest, ok2 := strings.Cut(rest, "\n")
	typ, payload, ok3 := strings.Cut(rest, "\n")
	if !ok1 || !ok2 || !ok3 {
		return daemon.BrokerEvent{}, false
	}
	n, err := strconv.ParseUint(off, 10, 64)
	if err != nil {
		return daemon.BrokerEvent{}, false
	}
	ev := daemon.BrokerEvent{Offset: n, Epoch: epoch, Type: typ}
	if payload != "" {
		ev.Payload = []byte(payload)
	}
	return ev, true
}

// Restart replaces the pub/sub connection with a new one subscribed to
// every channel in use: for a link that is up but delivers nothing, which
// only an end-to-end probe notices. The node catches up (Resync) once the
// new link confirms.
func (b *Broker) Restart() {
	if b.links != nil {
		b.setUp(false)
		b.links.restart()
		return
	}
	b.mu.Lock()
	keys := make([]string, 0, len(b.refs))
	for ch := range b.refs {
		keys = append(keys, b.key("c", ch))
	}
	b.up = false
	b.mu.Unlock()
	old := b.ps.Swap(b.rdb.Subscribe(b.runCtx, keys...))
	_ = old.Close() // the receiving goroutine moves to the new link
}

// sharded reports whether channels use sharded pub/sub (SPUBLISH,
// SSUBSCRIBE): in a cluster (clusterLinks).
func (b *Broker) sharded() bool { return b.links != nil }

// shardedPubSubAvailable asks one cluster node for its version: sharded
// pub/sub needs Redis 7. When no node answers it assumes so (Debian and
// managed services ship 7).
func (b *Broker) shardedPubSubAvailable(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	info, err := b.rdb.Info(ctx, "server").Result()
	if err != nil {
		return true
	}
	_, v, ok := strings.Cut(info, "redis_version:")
	if !ok {
		return true
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	return err != nil || n >= 7
}

// subscribe sends the subscription of channel on its link.
func (b *Broker) subscribe(ctx context.Context, channel string) error {
	if b.links != nil {
		return b.links.subscribe(ctx, channel, false)
	}
	return b.ps.Load().Subscribe(ctx, b.key("c", channel))
}

// await returns a channel closed when Redis next confirms a subscription
// of channel.
func (b *Broker) await(channel string) chan struct{} {
	c := make(chan struct{})
	b.mu.Lock()
	b.waiters[channel] = append(b.waiters[channel], c)
	b.mu.Unlock()
	return c
}
