package control

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Plane is one node's control plane: it applies actions to its node,
// sends them to the other nodes and gathers their answers, keeps the
// revocation list and feeds the taps.
type Plane struct {
	o       Options
	log     *zap.Logger
	revoked *revocations
	taps    *taps
	stats   counters
	work    chan envelope // actions to apply, in arrival order
	leave   sync.Once
	loaded  atomic.Bool // Load succeeded
	// joined is closed when the node first hears its own hello (join).
	joined     chan struct{}
	joinedOnce sync.Once

	// forward queues tap lines for other nodes' taps; remoteTapping is
	// whether any other node has a tap open (remoteTaps non-empty).
	forward       chan forwarded
	remoteTapping atomic.Bool

	mu         sync.Mutex
	remoteTaps map[string][]string  // node id → what its taps follow
	peers      map[string]time.Time // node id → last heard of (this node included)
	waiters    map[string]*waiter   // action id → its answers so far
}

// workQueue bounds the actions received and not yet applied.
const workQueue = 256

// New returns a Plane; nothing runs until Run.
func New(o Options) *Plane {
	if o.Node == nil {
		panic("control: Options.Node is nil")
	}
	o = o.withDefaults()
	p := &Plane{o: o, log: o.Logger, revoked: newRevocations(), work: make(chan envelope, workQueue),
		joined: make(chan struct{}), forward: make(chan forwarded, forwardQueue), remoteTaps: map[string][]string{},
		peers: map[string]time.Time{}, waiters: map[string]*waiter{}}
	p.taps = newTaps(o.TapBuffer, o.MaxTaps, &p.stats.tapDropped)
	p.peers[o.NodeID] = o.Now()
	return p
}

// NodeID names this node in answers.
func (p *Plane) NodeID() string { return p.o.NodeID }

// Load reads the revocations the Store keeps; Run retries it until it
// succeeds. The composition root calls it before serving clients (bounded
// by ctx), so that a restarted daemon refuses revoked users from its first
// handshake.
func (p *Plane) Load(ctx context.Context) error {
	if p.o.Store == nil {
		return nil
	}
	m, err := p.o.Store.Revocations(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	now := p.o.Now()
	for k, until := range m {
		p.revoked.add(k, until, now)
	}
	p.loaded.Store(true)
	return nil
}

// Run receives the other nodes' messages, applies actions, announces this
// node and forgets expired revocations, until ctx ends.
func (p *Plane) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := p.o.Bus.Receive(ctx, p.receive); err != nil && ctx.Err() == nil {
			p.log.Warn("control bus receive ended", zap.Error(err))
		}
	})
	wg.Go(func() { p.worker(ctx) })
	wg.Go(func() { p.forwarder(ctx) })
	p.join(ctx)
	t := time.NewTicker(p.o.HelloInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.Leave(context.Background())
			wg.Wait()
			p.taps.closeAll()
			return
		case <-t.C:
			p.hello(ctx, "hello", false)
			p.revoked.sweep(p.o.Now())
			p.forgetPeers()
			if p.o.Store != nil && !p.loaded.Load() {
				lctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
				if err := p.Load(lctx); err != nil {
					p.log.Warn("revocations not loaded yet", zap.Error(err))
				}
				cancel()
			}
		}
	}
}

// Leave tells the other nodes that this one is going, so that they stop
// waiting for its answers; once only (Run calls it too, on its way out).
// The composition root calls it while the bus still works: before it
// closes the broker.
func (p *Plane) Leave(ctx context.Context) {
	p.leave.Do(func() {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		p.hello(sctx, "bye", false)
	})
}

// joinTries bounds join's hellos, joinEvery spaces them.
const (
	joinTries = 40
	joinEvery = 50 * time.Millisecond
)

// join asks the other nodes to say hello until this node hears its own
// hello back, which proves its subscription to the bus is in place (a
// hello sent before that is lost, and so are the answers), so that it
// knows whom to wait for from its first action on.
func (p *Plane) join(ctx context.Context) {
	for range joinTries {
		p.hello(ctx, "hello", true)
		select {
		case <-ctx.Done():
			return
		case <-p.joined:
			return
		case <-time.After(joinEvery):
		}
	}
}

// hello announces this node ("hello") or its leaving ("bye"); ask asks
// the others to answer with theirs.
func (p *Plane) hello(ctx context.Context, kind string, ask bool) {
	e := envelope{Kind: kind, From: p.o.NodeID, Ask: ask}
	if kind == "hello" {
		e.Taps = p.taps.patternList()
	}
	b, _ := json.Marshal(e)
	if err := p.o.Bus.Send(ctx, b); err != nil && ctx.Err() == nil {
		p.log.Debug("control hello not sent", zap.Error(err))
	}
}

// forgetPeers drops the nodes not heard of for three hello intervals.
func (p *Plane) forgetPeers() {
	cutoff := p.o.Now().Add(-3 * p.o.HelloInterval)
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, at := range p.peers {
		if id != p.o.NodeID && at.Before(cutoff) {
			delete(p.peers, id)
			p.noteRemoteTaps(id, nil)
		}
	}
}

// Peers lists the nodes this one knows of, itself included, sorted.
func (p *Plane) Peers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.peers))
	for id := range p.peers {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// receive handles one bus message, on the bus's receiving goroutine:
// bookkeeping inline, actions queued to the worker.
func (p *Plane) receive(msg []byte) {
	var e envelope
	if err := json.Unmarshal(msg, &e); err != nil || e.From == "" {
		p.log.Debug("malformed control message dropped")
		return
	}
	switch e.Kind {
	case "hello":
		p.mu.Lock()
		p.peers[e.From] = p.o.Now()
		if e.From != p.o.NodeID {
			p.noteRemoteTaps(e.From, e.Taps)
		}
		p.mu.Unlock()
		switch {
		case e.From == p.o.NodeID:
			p.joinedOnce.Do(func() { close(p.joined) })
		case e.Ask:
			go p.helloBounded()
		}
	case "bye":
		p.mu.Lock()
		if e.From != p.o.NodeID {
			delete(p.peers, e.From)
			p.noteRemoteTaps(e.From, nil)
		}
		p.mu.Unlock()
		p.noteBye(e.From)
	case "action":
		if e.Action == nil {
			return
		}
		select {
		case p.work <- e:
		default:
			p.log.Warn("control action dropped: the worker is behind", zap.String("op", e.Action.Op))
		}
	case "ack":
		p.noteAck(e)
	case "tap":
		p.tapFromPeer(e)
	}
}

// worker applies queued actions in order and answers each.
func (p *Plane) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-p.work:
			n, data, err := p.apply(ctx, *e.Action)
			ack := envelope{Kind: "ack", From: p.o.NodeID, ID: e.ID, Applied: n, Data: data}
			if err != nil {
				ack.Error = err.Error()
			}
			b, _ := json.Marshal(ack)
			sctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
			if err := p.o.Bus.Send(sctx, b); err != nil {
				p.log.Warn("control ack not sent", zap.Error(err))
			}
			cancel()
		}
	}
}

// maxListBytes bounds one node's answer to OpConnections: a message on
// the bus (NATS refuses payloads over 1 MiB by default).
const maxListBytes = 512 << 10

// apply carries out a on this node; data is a read-only action's answer.
func (p *Plane) apply(ctx context.Context, a Action) (int, json.RawMessage, error) {
	p.stats.count(a.Op)
	if a.Op == OpConnections {
		return p.list(a)
	}
	p.taps.control(a, p.o.NodeID, p.o.Now())
	n, err := p.act(ctx, a)
	return n, nil, err
}

// list answers OpConnections from this node.
func (p *Plane) list(a Action) (int, json.RawMessage, error) {
	b, err := json.Marshal(p.o.Node.Connections(a.Value, a.Channel))
	if err != nil {
		return 0, nil, err
	}
	if len(b) > maxListBytes {
		return 0, nil, fmt.Errorf("too many connections to list across nodes (%d bytes): filter by user or channel, or list each node with ?local=1", len(b))
	}
	return 0, b, nil
}

// act carries out an action that changes something on this node.
func (p *Plane) act(ctx context.Context, a Action) (int, error) {
	n := p.o.Node
	switch a.Op {
	case OpDisconnect:
		return n.Disconnect(a.By, a.Value, a.Code, a.Reason), nil
	case OpRevoke:
		p.revoked.add(revocationKey(a.By, a.Value), a.Until, p.o.Now())
		return n.Disconnect(a.By, a.Value, CloseRevoked, cmpReason(a.Reason, "revoked")), nil
	case OpUnrevoke:
		p.revoked.remove(revocationKey(a.By, a.Value))
		return 0, nil
	case OpSubscribe:
		return n.SubscribeServer(a.By, a.Value, a.Channel), nil
	case OpUnsubscribe:
		return n.UnsubscribeServer(a.By, a.Value, a.Channel, cmpReason(a.Reason, "unsubscribed by the server")), nil
	case OpClearHistory:
		cctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
		defer cancel()
		return 0, n.ClearHistory(cctx, a.Channel)
	}
	return 0, fmt.Errorf("%w: unknown op %q", ErrBadAction, a.Op)
}

func cmpReason(r, def string) string {
	if r == "" {
		return def
	}
	return r
}

// helloBounded is hello from a goroutine of its own, bounded in time.
func (p *Plane) helloBounded() {
	ctx, cancel := context.WithTimeout(context.Background(), p.o.Timeout)
	defer cancel()
	p.hello(ctx, "hello", false)
}
