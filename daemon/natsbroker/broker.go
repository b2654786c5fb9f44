package natsbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	// Timeout bounds one attempt at storing a batch of events: past it
	// without an answer, the publish's outcome is unknown
	// (OutcomeUnknownError). Default 2s.
	Timeout time.Duration
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
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

// Broker is a daemon.Broker over NATS JetStream.
type Broker struct {
	opts Options
	nc   *nats.Conn
	js   jetstream.JetStream
	log  *zap.Logger

	// smu guards the stream's state: whether it is known to exist, and its
	// generation (bumped each time it is created or found again, so that
	// cached positions of an older one are not used). Lock order: smu, then
	// nothing.
	smu      sync.Mutex
	streamOK bool
	gen      uint64
	// deleted is when JetStream last announced the stream's deletion: no
	// creation before deleted+deletionSettle (createStream).
	deleted time.Time
	reason  atomic.Pointer[string] // why not ready; "" or nil when ready
	// handle is the stream's handle for read calls, valid in handleGen.
	handle    jetstream.Stream
	handleGen uint64

	// qmu guards queues; lock order: qmu, then a chanq's mu.
	qmu    sync.Mutex
	queues map[string]*chanq

	// mu guards h, refs and subs.
	mu   sync.Mutex
	h    Handler
	refs map[string]int
	subs map[string]*nats.Subscription
}

var _ daemon.Broker = (*Broker)(nil)

// New connects (retrying in the background when the server is not up yet);
// the stream is made on first use.
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
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &Broker{opts: o, log: o.Logger.Named("nats"), queues: map[string]*chanq{},
		refs: map[string]int{}, subs: map[string]*nats.Subscription{}}
	// ReconnectBufSize(-1): a publish while the link is down fails at once
	// (503, nothing sent) instead of waiting in a buffer that may or may
	// not be sent after the reconnect.
	nc, err := nats.Connect(o.URL, nats.Name("fanoutd"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250*time.Millisecond), nats.Timeout(2*time.Second), nats.ReconnectBufSize(-1),
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
	if _, err := nc.Subscribe(deletedAdvisory+o.Stream, func(*nats.Msg) { b.streamDeleted() }); err != nil {
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

// Up reports whether the connection is up and the stream usable: for
// readiness (NotReady says why not).
func (b *Broker) Up() bool { return b.NotReady() == "" }

// Restart forces a reconnect: for a link that is up but delivers nothing.
// It also makes the next call check the stream again, so a probe that
// fails because the stream is gone heals it.
func (b *Broker) Restart() {
	b.smu.Lock()
	b.streamOK = false
	b.smu.Unlock()
	_ = b.nc.ForceReconnect()
}

// reconnected runs on nats.go's callback goroutine after a reconnect. The
// server may have come back without the stream (an empty store): check it
// (recreating it if need be) before the node catches up.
func (b *Broker) reconnected() {
	b.log.Info("NATS link back; checking the stream and catching up")
	b.recheck("", "after the reconnect")
}

// recheck marks the stream unknown (with reason for /readyz, "" to keep
// the one in force), then, on a goroutine of its own (the caller may be
// nats.go's callback goroutine, and these call back into NATS), creates or
// updates it (a new generation: every channel queue reads its position
// again) and has the node catch up. after names the event for the log.
func (b *Broker) recheck(reason, after string) {
	b.smu.Lock()
	b.streamOK = false
	if reason != "" {
		b.setReason(reason)
	}
	b.smu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
		_, err := b.ensureStream(ctx)
		cancel()
		if err != nil {
			b.log.Warn("NATS stream not usable "+after, zap.Error(err))
		}
		b.resync()
	}()
}

// resync asks the node to catch up from the stream (after a reconnect or a
// lost stream: positions may have moved or started over), on a goroutine of
// its own: the caller may be the node itself holding a channel's lock (a
// History call that found the stream gone), which Resync takes.
func (b *Broker) resync() {
	b.mu.Lock()
	h := b.h
	b.mu.Unlock()
	if h != nil {
		go h.Resync()
	}
}

func newEpoch() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}
