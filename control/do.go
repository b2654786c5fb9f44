package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Result is the answer to an action: what each node did.
type Result struct {
	ID     string `json:"id"`
	Action Action `json:"action"`
	// Applied is how many connections were acted on, over every node.
	Applied int          `json:"applied"`
	Nodes   []NodeResult `json:"nodes"`
	// Missing names the nodes that were expected and did not answer
	// before the deadline (Options.Timeout).
	Missing []string `json:"missing,omitempty"`
}

// NodeResult is one node's answer.
type NodeResult struct {
	Node    string `json:"node"`
	Applied int    `json:"applied"`
	Error   string `json:"error,omitempty"`
	// Data is a read-only action's answer from the node.
	Data json.RawMessage `json:"data,omitempty"`
}

// waiter gathers the answers to one action.
type waiter struct {
	expect map[string]bool // the nodes known when it was sent
	acks   map[string]NodeResult
	done   chan struct{}
	closed bool
}

// complete reports whether every expected node answered (or left).
func (w *waiter) complete() bool {
	for id := range w.expect {
		if _, ok := w.acks[id]; !ok {
			return false
		}
	}
	return true
}

// Do applies a on every node: it checks it, keeps a revocation in the
// Store, sends it on the bus and waits until every node known to be up has
// answered, or Options.Timeout passed (the answer then names the missing
// nodes), or ctx ended. Safe for concurrent use.
func (p *Plane) Do(ctx context.Context, a Action) (Result, error) {
	if err := a.check(p.o.Now(), p.o.MaxRevocation); err != nil {
		return Result{}, err
	}
	if err := p.checkChannel(a); err != nil {
		return Result{}, err
	}
	if err := p.store(ctx, a); err != nil {
		return Result{}, err
	}
	id := p.o.NodeID + "-" + randomID()
	w := p.wait(id)
	defer p.unwait(id)
	b, _ := json.Marshal(envelope{Kind: "action", From: p.o.NodeID, ID: id, Action: &a})
	sctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	if err := p.o.Bus.Send(sctx, b); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrBus, err)
	}
	select {
	case <-w.done:
	case <-sctx.Done():
	}
	return p.result(id, a, w), nil
}

// checkChannel refuses an action on a channel name that no client could
// subscribe to (ErrBadAction, 400). A listing filtered by such a name is
// merely empty, as it is with ?local=1, which never reaches Do.
func (p *Plane) checkChannel(a Action) error {
	if a.Op == OpConnections {
		return nil
	}
	channels := []string{a.Channel}
	if a.By == "channel" {
		channels = append(channels, a.Value)
	}
	for _, ch := range channels {
		if ch == "" {
			continue
		}
		if err := p.o.Node.CheckChannel(ch); err != nil {
			return fmt.Errorf("%w: %w", ErrBadAction, err)
		}
	}
	return nil
}

// store keeps a revocation (or its removal) in the Store first: a
// revocation that would not survive a restart is refused whole.
func (p *Plane) store(ctx context.Context, a Action) error {
	if p.o.Store == nil || (a.Op != OpRevoke && a.Op != OpUnrevoke) {
		return nil
	}
	until := a.Until
	if a.Op == OpUnrevoke {
		until = p.o.Now() // ends it now; the store forgets it
	}
	sctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	if err := p.o.Store.PutRevocation(sctx, revocationKey(a.By, a.Value), until); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

func (p *Plane) wait(id string) *waiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := &waiter{expect: map[string]bool{}, acks: map[string]NodeResult{}, done: make(chan struct{})}
	for node := range p.peers {
		w.expect[node] = true
	}
	p.waiters[id] = w
	return w
}

func (p *Plane) unwait(id string) {
	p.mu.Lock()
	delete(p.waiters, id)
	p.mu.Unlock()
}

// noteAck records a node's answer.
func (p *Plane) noteAck(e envelope) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peers[e.From] = p.o.Now() // an answer is as good as a hello
	w := p.waiters[e.ID]
	if w == nil {
		return
	}
	w.acks[e.From] = NodeResult{Node: e.From, Applied: e.Applied, Error: e.Error, Data: e.Data}
	p.settle(w)
}

// noteBye stops waiting for a node that left.
func (p *Plane) noteBye(node string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.waiters {
		delete(w.expect, node)
		p.settle(w)
	}
}

// settle ends the wait once complete. Called with p.mu held.
func (p *Plane) settle(w *waiter) {
	if !w.closed && w.complete() {
		w.closed = true
		close(w.done)
	}
}

func (p *Plane) result(id string, a Action, w *waiter) Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := Result{ID: id, Action: a, Nodes: []NodeResult{}}
	for _, nr := range w.acks {
		r.Applied += nr.Applied
		r.Nodes = append(r.Nodes, nr)
	}
	for node := range w.expect {
		if _, ok := w.acks[node]; !ok {
			r.Missing = append(r.Missing, node)
		}
	}
	slices.SortFunc(r.Nodes, func(x, y NodeResult) int { return strings.Compare(x.Node, y.Node) })
	slices.Sort(r.Missing)
	return r
}

// Revoked reports whether the user or the token id (either may be "") is
// revoked now, and until when. The composition root's authenticator calls
// it at every handshake and refresh, from transport goroutines.
func (p *Plane) Revoked(user, jti string) (time.Time, bool) {
	now := p.o.Now()
	if user != "" {
		if until, ok := p.revoked.get(revocationKey("user", user), now); ok {
			return until, true
		}
	}
	if jti != "" {
		return p.revoked.get(revocationKey("jti", jti), now)
	}
	return time.Time{}, false
}

// errStatus maps the plane's errors to HTTP statuses.
func errStatus(err error) int {
	var invalid interface{ Invalid() bool }
	var unavailable interface{ Unavailable() bool }
	switch {
	case errors.Is(err, ErrBadAction), errors.As(err, &invalid) && invalid.Invalid():
		return 400
	case errors.Is(err, ErrStore), errors.Is(err, ErrBus), errors.Is(err, ErrTooManyTaps),
		errors.As(err, &unavailable) && unavailable.Unavailable():
		return 503
	}
	return 500
}
