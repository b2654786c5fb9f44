package daemon

import (
	"context"
	"sync"
	"sync/atomic"
)

// heldMax bounds the broker deliveries a frozen node keeps aside for
// Unfreeze. Past it a channel's further deliveries are dropped and the
// channel is marked: Unfreeze catches it up from the broker's history
// instead (or tells its subscribers of the gap, as a Resync would).
const heldMax = 65536

// handoffGate is what Freeze closes. Everything that changes what sessions
// were sent or what the node holds from outside a session's own transport
// passes through it: publishes, broker deliveries, resyncs, the sweepers
// and the control plane's changes. Passing is two atomic operations while
// the node is not frozen; Freeze sets frozen, then waits for those inside
// to leave (the same store-then-load on both sides as sync.RWMutex's reader
// count, so one side always sees the other).
type handoffGate struct {
	active atomic.Int64
	frozen atomic.Bool

	mu      sync.Mutex    // guards the fields below
	open    chan struct{} // closed by Unfreeze; callers waiting for it block on it
	drained chan struct{} // closed by the last one to leave while Freeze waits
	gone    chan struct{} // closed by retire: waiting is over for good
	retired bool
	held    []heldEvent         // broker deliveries kept aside, in arrival order
	gapped  map[string]struct{} // channels whose deliveries went past heldMax
	resync  bool                // a Resync came while frozen
}

// heldEvent is one broker delivery kept aside while frozen.
type heldEvent struct {
	channel string
	ev      BrokerEvent
}

// tryEnter lets the caller in unless the node is frozen; leave must follow.
func (g *handoffGate) tryEnter() bool {
	g.active.Add(1)
	if !g.frozen.Load() {
		return true
	}
	g.leave()
	return false
}

// leave ends what tryEnter or enter began, waking Freeze when it was the
// last one inside.
func (g *handoffGate) leave() {
	if g.active.Add(-1) != 0 || !g.frozen.Load() {
		return
	}
	g.mu.Lock()
	if g.drained != nil && g.active.Load() == 0 {
		close(g.drained)
		g.drained = nil
	}
	g.mu.Unlock()
}

// enter waits while the node is frozen: it returns nil once let in,
// ctx's error when ctx ends first, ErrHandedOff when the node was retired.
func (g *handoffGate) enter(ctx context.Context) error {
	for {
		if g.tryEnter() {
			return nil
		}
		g.mu.Lock()
		if g.retired {
			g.mu.Unlock()
			return ErrHandedOff
		}
		if !g.frozen.Load() {
			g.mu.Unlock()
			continue
		}
		open, gone := g.open, g.gone
		g.mu.Unlock()
		select {
		case <-open:
		case <-gone:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// retiredNow reports whether retire was called.
func (g *handoffGate) retiredNow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.retired
}

// freeze closes the gate and waits until nobody is inside.
func (g *handoffGate) freeze() {
	g.mu.Lock()
	if g.frozen.Load() {
		g.mu.Unlock()
		return
	}
	g.open = make(chan struct{})
	if g.gone == nil {
		g.gone = make(chan struct{})
	}
	g.frozen.Store(true)
	var wait chan struct{}
	if g.active.Load() > 0 {
		wait = make(chan struct{})
		g.drained = wait
	}
	g.mu.Unlock()
	if wait != nil {
		<-wait
	}
}

// hold keeps a broker delivery aside while the node is frozen; false means
// the node thawed meanwhile and the caller must deliver it itself.
func (g *handoffGate) hold(channel string, ev BrokerEvent) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !g.frozen.Load():
		return false
	case g.retired:
		return true // the new process catches up from the broker
	}
	if _, gapped := g.gapped[channel]; gapped {
		return true
	}
	if len(g.held) >= heldMax {
		if g.gapped == nil {
			g.gapped = make(map[string]struct{})
		}
		g.gapped[channel] = struct{}{}
		return true
	}
	g.held = append(g.held, heldEvent{channel: channel, ev: ev})
	return true
}

// holdResync records a Resync that came while frozen; false as hold.
func (g *handoffGate) holdResync() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.frozen.Load() {
		return false
	}
	g.resync = !g.retired
	return true
}

// backlog takes what was kept aside; when there is nothing, it thaws the
// gate instead (under the same lock, so nothing is kept aside after the
// last look) and reports done.
func (g *handoffGate) backlog() (held []heldEvent, gapped map[string]struct{}, resync, done bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retired || !g.frozen.Load() {
		return nil, nil, false, true
	}
	held, gapped, resync = g.held, g.gapped, g.resync
	g.held, g.gapped, g.resync = nil, nil, false
	if len(held) == 0 && len(gapped) == 0 && !resync {
		g.frozen.Store(false)
		close(g.open)
		return nil, nil, false, true
	}
	return held, gapped, resync, false
}

// retire freezes the gate for good and drops what was kept aside.
func (g *handoffGate) retire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retired {
		return
	}
	g.retired = true
	g.frozen.Store(true)
	if g.gone == nil {
		g.gone = make(chan struct{})
	}
	close(g.gone)
	g.held, g.gapped, g.resync = nil, nil, false
}

// Freeze stops the node delivering, for a hand-off: when it returns, no
// publish, broker delivery, resync, sweep or control-plane change is in
// progress and none will queue anything to a session until Unfreeze.
// PublishBatch, Publish and PublishReserved wait meanwhile (until
// Unfreeze, their ctx's end, or ErrHandedOff once the node is retired);
// Disconnect, SubscribeServer and UnsubscribeServer wait the same way and
// do nothing (return 0) once it is retired. Broker deliveries (Deliver)
// are kept aside, at most heldMax of them; past that a channel is marked
// and Unfreeze catches it up from the broker's history. The expiry and
// history sweeps skip their turns.
//
// The transport must be frozen first: Session.Message, Subscribe and
// Closed are not held back. Freeze, Unfreeze, Retire and Detach are called
// by one goroutine (the hand-off's), never from inside a publish, delivery
// or control-plane call (Freeze would wait for itself). Freezing a frozen
// node does nothing.
func (n *Node) Freeze() { n.gate.freeze() }

// Unfreeze undoes Freeze after a hand-off that failed: the broker
// deliveries kept aside are delivered in their order (catching up the
// marked channels from the broker), then the waiting publishes and
// control-plane calls go on. Nothing queued before Freeze is lost, and
// nothing is sent twice. It does nothing on a node that is not frozen, or
// that was retired (Detach, Retire).
func (n *Node) Unfreeze() {
	for {
		held, gapped, resync, done := n.gate.backlog()
		if done {
			return
		}
		for _, h := range held {
			n.deliver1(h.channel, h.ev)
		}
		for name := range gapped {
			n.catchUpChannel(name)
		}
		if resync {
			n.resync()
		}
	}
}

// Retire marks a frozen node as handed off for good (the new process took
// over): the calls waiting on Freeze return (ErrHandedOff for publishes,
// 0 for the control plane), later ones fail at once, deliveries kept aside
// are forgotten and Unfreeze no longer thaws. Session.Detach retires the
// node; call Retire directly when the node had no session to detach. On a
// node that was not frozen it freezes it first (waiting as Freeze does).
func (n *Node) Retire() {
	n.gate.freeze()
	n.gate.retire()
}
