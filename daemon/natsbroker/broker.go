package natsbroker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Options configure a Broker.
type Options struct {
	// URL of the NATS server(s), comma-separated. Required.
	URL string
	// Prefix starts every subject. Default "fanoutd".
	Prefix string
	// Stream is the JetStream stream's name. Default "FANOUTD".
	Stream string
	// MaxPerChannel is how many events the stream keeps per channel.
	// Default 100.
	MaxPerChannel int
	// MaxAge is how long the stream keeps an event; 0 means no limit.
	MaxAge time.Duration
	// IdempotencyWindow is JetStream's duplicate window. Default 2m.
	IdempotencyWindow time.Duration
	// Logger; nil means no logs.
	Logger *zap.Logger
}

// Handler receives what the broker reads; *daemon.Node implements it.
type Handler interface {
	Deliver(channel string, ev daemon.BrokerEvent)
	Resync()
}

// Headers of a stored event.
const (
	hdrOffset = "Fanoutd-Offset"
	hdrEpoch  = "Fanoutd-Epoch"
	hdrType   = "Fanoutd-Type"
)

// casRetries bounds the retries of a publish that lost the race for a
// channel's next offset to another publisher.
const casRetries = 20

// Broker is a daemon.Broker over NATS JetStream.
type Broker struct {
	opts   Options
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *zap.Logger
	h      Handler

	mu   sync.Mutex
	refs map[string]int
	subs map[string]*nats.Subscription
}

var _ daemon.Broker = (*Broker)(nil)

// New connects (retrying in the background when the server is not up yet)
// and makes sure the stream exists.
func New(o Options) (*Broker, error) {
	if o.URL == "" {
		return nil, errors.New("natsbroker: Options.URL is required")
	}
	if o.Prefix == "" {
		o.Prefix = "fanoutd"
	}
	if o.Stream == "" {
		o.Stream = "FANOUTD"
	}
	if o.MaxPerChannel <= 0 {
		o.MaxPerChannel = 100
	}
	if o.IdempotencyWindow <= 0 {
		o.IdempotencyWindow = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	b := &Broker{opts: o, log: o.Logger.Named("nats"), refs: map[string]int{}, subs: map[string]*nats.Subscription{}}
	nc, err := nats.Connect(o.URL, nats.Name("fanoutd"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250*time.Millisecond), nats.Timeout(2*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { b.log.Warn("NATS link lost; reconnecting", zap.Error(err)) }),
		nats.ReconnectHandler(func(*nats.Conn) { b.reconnected() }))
	if err != nil {
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	return b, nil
}

// Start hands received events to h. Call it once, before the node serves.
func (b *Broker) Start(h Handler) {
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
}

// Close drops the connection.
func (b *Broker) Close() error {
	b.nc.Close()
	return nil
}

// Up reports whether the connection is up: for readiness.
func (b *Broker) Up() bool { return b.nc.IsConnected() }

// Restart forces a reconnect: for a link that is up but delivers nothing.
func (b *Broker) Restart() { _ = b.nc.ForceReconnect() }

func (b *Broker) reconnected() {
	b.log.Info("NATS link back; catching up")
	b.mu.Lock()
	h := b.h
	b.mu.Unlock()
	if h != nil {
		go h.Resync() // not on nats.go's callback goroutine: Resync calls back into NATS
	}
}

func (b *Broker) subject(channel string) string {
	return b.opts.Prefix + ".s." + base64.RawURLEncoding.EncodeToString([]byte(channel))
}

// getStream returns the stream, creating it on first use (the server may
// not have been up when New ran).
func (b *Broker) getStream(ctx context.Context) (jetstream.Stream, error) {
	b.mu.Lock()
	s := b.stream
	b.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              b.opts.Stream,
		Subjects:          []string{b.opts.Prefix + ".s.>"},
		MaxMsgsPerSubject: int64(b.opts.MaxPerChannel),
		MaxAge:            b.opts.MaxAge,
		Duplicates:        b.opts.IdempotencyWindow,
		Discard:           jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("nats stream: %w", err)
	}
	b.mu.Lock()
	b.stream = s
	b.mu.Unlock()
	return s, nil
}

// last returns the channel's last stored event: its stream sequence and
// position; seq 0 when the channel has none.
func (b *Broker) last(ctx context.Context, s jetstream.Stream, subj string) (seq, offset uint64, epoch string, err error) {
	m, err := s.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, 0, "", nil
	}
	if err != nil {
		return 0, 0, "", err
	}
	offset, _ = strconv.ParseUint(m.Header.Get(hdrOffset), 10, 64)
	return m.Sequence, offset, m.Header.Get(hdrEpoch), nil
}

// Publish implements daemon.Broker.
func (b *Broker) Publish(ctx context.Context, channel, eventType string, payload []byte, key string) (uint64, string, bool, error) {
	s, err := b.getStream(ctx)
	if err != nil {
		return 0, "", false, err
	}
	subj := b.subject(channel)
	for range casRetries {
		seq, offset, epoch, err := b.last(ctx, s, subj)
		if err != nil {
			return 0, "", false, fmt.Errorf("nats publish: %w", err)
		}
		if seq == 0 {
			epoch = newEpoch()
		}
		msg := nats.NewMsg(subj)
		msg.Header.Set(hdrOffset, strconv.FormatUint(offset+1, 10))
		msg.Header.Set(hdrEpoch, epoch)
		msg.Header.Set(hdrType, eventType)
		msg.Data = payload
		opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(seq)}
		if key != "" {
			opts = append(opts, jetstream.WithMsgID(channel+"\x00"+key))
		}
		ack, err := b.js.PublishMsg(ctx, msg, opts...)
		var apiErr *jetstream.APIError
		switch {
		case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
			continue // another publisher took the offset: number again
		case err != nil:
			return 0, "", false, fmt.Errorf("nats publish: %w", err)
		case ack.Duplicate:
			return b.original(ctx, s, ack.Sequence)
		}
		return offset + 1, epoch, false, nil
	}
	return 0, "", false, errors.New("nats publish: too much contention on the channel")
}

// original reads the position of the message a duplicate id points at.
func (b *Broker) original(ctx context.Context, s jetstream.Stream, seq uint64) (uint64, string, bool, error) {
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return 0, "", true, fmt.Errorf("nats publish: %w", err)
	}
	offset, _ := strconv.ParseUint(m.Header.Get(hdrOffset), 10, 64)
	return offset, m.Header.Get(hdrEpoch), true, nil
}

// Position implements daemon.Broker.
func (b *Broker) Position(ctx context.Context, channel string) (uint64, string, error) {
	s, err := b.getStream(ctx)
	if err != nil {
		return 0, "", err
	}
	_, offset, epoch, err := b.last(ctx, s, b.subject(channel))
	return offset, epoch, err
}

// History implements daemon.Broker: an ordered consumer reads the
// channel's stored events.
func (b *Broker) History(ctx context.Context, channel string, after uint64, epoch string) ([]daemon.BrokerEvent, bool, error) {
	s, err := b.getStream(ctx)
	if err != nil {
		return nil, false, err
	}
	subj := b.subject(channel)
	_, offset, current, err := b.last(ctx, s, subj)
	switch {
	case err != nil:
		return nil, false, err
	case current != epoch || after > offset:
		return nil, false, nil
	case after == offset:
		return nil, true, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return nil, false, fmt.Errorf("nats history: %w", err)
	}
	var events []daemon.BrokerEvent
	want := after + 1
	for want <= offset {
		batch, err := cons.Fetch(b.opts.MaxPerChannel, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, false, fmt.Errorf("nats history: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			ev := parse(m.Headers(), m.Data())
			switch {
			case ev.Epoch != epoch || ev.Offset < want:
			case ev.Offset == want:
				events = append(events, ev)
				want++
			default:
				return nil, false, nil // trimmed: not all kept
			}
		}
		if n == 0 {
			break
		}
	}
	return events, want > offset, nil
}

// Subscribe implements daemon.Broker: Flush makes sure the server has the
// subscription before the position is read.
func (b *Broker) Subscribe(ctx context.Context, channel string) (uint64, string, error) {
	b.mu.Lock()
	b.refs[channel]++
	if b.refs[channel] == 1 {
		sub, err := b.nc.Subscribe(b.subject(channel), func(m *nats.Msg) { b.deliver(channel, m) })
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
	return b.Position(ctx, channel)
}

func (b *Broker) deliver(channel string, m *nats.Msg) {
	b.mu.Lock()
	h := b.h
	b.mu.Unlock()
	if h != nil {
		h.Deliver(channel, parse(m.Header, m.Data))
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

func parse(h nats.Header, data []byte) daemon.BrokerEvent {
	offset, _ := strconv.ParseUint(h.Get(hdrOffset), 10, 64)
	ev := daemon.BrokerEvent{Offset: offset, Epoch: h.Get(hdrEpoch), Type: h.Get(hdrType)}
	if len(data) > 0 {
		ev.Payload = data
	}
	return ev
}

func newEpoch() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}
