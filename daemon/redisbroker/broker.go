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
	// Addr is the Redis server, host:port. Required unless Client is set.
	Addr string
	// Password for AUTH, with Addr or the Sentinel fields.
	Password string
	// SentinelMaster, with SentinelAddrs, finds the Redis master through
	// Redis Sentinel and follows its failovers (instead of Addr).
	SentinelMaster string
	SentinelAddrs  []string
	// Client, when set, is used instead of dialling Addr (for Sentinel,
	// pass a redis.NewFailoverClient). The Broker does not close it.
	Client *redis.Client
	// Prefix starts every key and pub/sub channel. Default "fanoutd".
	Prefix string
	// History returns how many events a channel keeps and for how long
	// (0: no age limit); nil keeps 100 events without age limit.
	History func(channel string) (size int, ttl time.Duration)
	// IdempotencyWindow is how long a publish's idempotency key is
	// remembered. Default 5m.
	IdempotencyWindow time.Duration
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
	opts   Options
	rdb    *redis.Client
	owned  bool                         // rdb was dialled by New: Close closes it
	ps     atomic.Pointer[redis.PubSub] // replaced by Restart
	runCtx context.Context
	log    *zap.Logger
	cancel context.CancelFunc
	done   chan struct{}
	hbDone chan struct{}
	nodeID string // names this node in presence entries

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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	b := &Broker{opts: o, rdb: o.Client, log: o.Logger.Named("redis"), nodeID: newEpoch(),
		refs: map[string]int{}, waiters: map[string][]chan struct{}{}}
	if b.rdb == nil && o.SentinelMaster != "" {
		b.rdb = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: o.SentinelMaster,
			SentinelAddrs: o.SentinelAddrs, Password: o.Password, DialTimeout: 2 * time.Second,
			ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
		b.owned = true
	}
	if b.rdb == nil {
		if o.Addr == "" {
			return nil, errors.New("redisbroker: Options.Addr is required")
		}
		b.rdb = redis.NewClient(&redis.Options{Addr: o.Addr, Password: o.Password, DialTimeout: 2 * time.Second,
			ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
		b.owned = true
	}
	return b, nil
}

// Start begins reading the pub/sub link and handing events to h. Call it
// once, before the node serves clients.
func (b *Broker) Start(h Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.done = make(chan struct{})
	b.runCtx = ctx
	b.ps.Store(b.rdb.Subscribe(ctx)) // no channels yet: Subscribe adds them
	go b.receive(ctx, h)
	b.hbDone = make(chan struct{})
	go func() { defer close(b.hbDone); b.heartbeat(ctx) }()
}

// Close stops reading and releases the connections.
func (b *Broker) Close() error {
	if b.cancel != nil {
		b.cancel()
		err := b.ps.Load().Close()
		<-b.done
		<-b.hbDone
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

func (b *Broker) key(kind, channel string) string { return b.opts.Prefix + ":" + kind + ":" + channel }

// Publish implements daemon.Broker.
func (b *Broker) Publish(ctx context.Context, channel, eventType string, payload []byte, key string) (uint64, string, bool, error) {
	size, _ := b.opts.History(channel)
	idem := ""
	if key != "" {
		idem = b.key("i", channel) + ":" + key
	}
	res, err := publishScript.Run(ctx, b.rdb,
		[]string{b.key("m", channel), b.key("s", channel), idem},
		b.key("c", channel), eventType, payload, size, b.opts.IdempotencyWindow.Milliseconds(),
		newEpoch(), b.opts.Now().UnixMilli()).Slice()
	if err != nil {
		return 0, "", false, fmt.Errorf("redis publish: %w", err)
	}
	pos, _ := res[0].(string)
	dup, _ := res[1].(int64)
	offset, epoch, err := parsePosition(pos)
	return offset, epoch, dup == 1, err
}

// Position implements daemon.Broker.
func (b *Broker) Position(ctx context.Context, channel string) (uint64, string, error) {
	vals, err := b.rdb.HMGet(ctx, b.key("m", channel), "offset", "epoch").Result()
	if err != nil {
		return 0, "", fmt.Errorf("redis position: %w", err)
	}
	offStr, _ := vals[0].(string)
	epoch, _ := vals[1].(string)
	if epoch == "" {
		// Nothing published yet: offset 0 of an epoch the first publish
		// will set. A client holding "" recovers nothing, as it should.
		return 0, "", nil
	}
	offset, err := strconv.ParseUint(offStr, 10, 64)
	return offset, epoch, err
}

// History implements daemon.Broker.
func (b *Broker) History(ctx context.Context, channel string, after uint64, epoch string) ([]daemon.BrokerEvent, bool, error) {
	offset, current, err := b.Position(ctx, channel)
	if err != nil {
		return nil, false, err
	}
	if current != epoch || after > offset {
		return nil, false, nil
	}
	if after == offset {
		return nil, true, nil
	}
	msgs, err := b.rdb.XRange(ctx, b.key("s", channel), strconv.FormatUint(after+1, 10)+"-0", "+").Result()
	if err != nil {
		return nil, false, fmt.Errorf("redis history: %w", err)
	}
	_, ttl := b.opts.History(channel)
	oldest := int64(0)
	if ttl > 0 {
		oldest = b.opts.Now().Add(-ttl).UnixMilli()
	}
	events := make([]daemon.BrokerEvent, 0, len(msgs))
	want := after + 1
	for _, m := range msgs {
		ev, at, ok := parseEntry(m, epoch)
		if !ok || ev.Offset != want || at < oldest {
			return nil, false, nil
		}
		events = append(events, ev)
		want++
	}
	// Events published after the position read are fine; a short list is not.
	return events, want > offset, nil
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
	if err := b.ps.Load().Subscribe(ctx, b.key("c", channel)); err != nil {
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
	defer b.mu.Unlock()
	if b.refs[channel]--; b.refs[channel] <= 0 {
		delete(b.refs, channel)
		delete(b.waiters, channel)
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
	return b.ps.Load().Unsubscribe(ctx, b.key("c", channel))
}

func newEpoch() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

func parsePosition(s string) (uint64, string, error) {
	off, epoch, ok := strings.Cut(s, "\n")
	if !ok {
		return 0, "", fmt.Errorf("redis: malformed position %q", s)
	}
	n, err := strconv.ParseUint(off, 10, 64)
	return n, epoch, err
}

// parseMessage splits "offset\nepoch\ntype\npayload".
func parseMessage(s string) (daemon.BrokerEvent, bool) {
	parts := strings.SplitN(s, "\n", 4)
	if len(parts) != 4 {
		return daemon.BrokerEvent{}, false
	}
	off, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil {
		return daemon.BrokerEvent{}, false
	}
	ev := daemon.BrokerEvent{Offset: off, Epoch: parts[1], Type: parts[2]}
	if parts[3] != "" {
		ev.Payload = []byte(parts[3])
	}
	return ev, true
}

// parseEntry reads one stream entry of epoch.
func parseEntry(m redis.XMessage, epoch string) (daemon.BrokerEvent, int64, bool) {
	id, _, _ := strings.Cut(m.ID, "-")
	off, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return daemon.BrokerEvent{}, 0, false
	}
	typ, _ := m.Values["t"].(string)
	payload, _ := m.Values["p"].(string)
	atStr, _ := m.Values["at"].(string)
	at, _ := strconv.ParseInt(atStr, 10, 64)
	ev := daemon.BrokerEvent{Offset: off, Epoch: epoch, Type: typ}
	if payload != "" {
		ev.Payload = []byte(payload)
	}
	return ev, at, true
}

// Restart replaces the pub/sub connection with a new one subscribed to
// every channel in use: for a link that is up but delivers nothing, which
// only an end-to-end probe notices. The node catches up (Resync) once the
// new link confirms.
func (b *Broker) Restart() {
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
