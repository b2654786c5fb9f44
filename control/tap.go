package control

import (
	"bytes"
	"context"
	"encoding/json"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// taps are the open tap streams. Publishing feeds them through Event,
// which costs one atomic load while no tap is open, and never blocks: a
// tap that falls behind loses lines (each tap has its own bounded queue)
// and is told how many.
type taps struct {
	open    atomic.Int32
	buffer  int
	max     int
	dropped *atomic.Uint64 // every tap's drops, for metrics

	mu     sync.RWMutex
	set    map[*tap]struct{}
	closed bool // closeAll ran: no new tap opens
}

// tap is one stream: the channel patterns it follows and its queue.
type tap struct {
	patterns []string
	lines    chan []byte
	dropped  atomic.Uint64
	closed   chan struct{}
}

func newTaps(buffer, maxTaps int, dropped *atomic.Uint64) *taps {
	return &taps{buffer: buffer, max: maxTaps, dropped: dropped, set: map[*tap]struct{}{}}
}

// add opens a tap on the comma-separated patterns ("" or "*": every
// channel); nil when MaxTaps are open.
func (t *taps) add(patterns string) *tap {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || len(t.set) >= t.max {
		return nil
	}
	tp := &tap{lines: make(chan []byte, t.buffer), closed: make(chan struct{})}
	for p := range strings.SplitSeq(patterns, ",") {
		if p = strings.TrimSpace(p); p != "" {
			tp.patterns = append(tp.patterns, p)
		}
	}
	t.set[tp] = struct{}{}
	t.open.Add(1)
	return tp
}

func (t *taps) remove(tp *tap) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.set[tp]; ok {
		delete(t.set, tp)
		t.open.Add(-1)
	}
}

// closeAll ends every tap, and refuses new ones (the daemon stops).
func (t *taps) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for tp := range t.set {
		close(tp.closed)
		delete(t.set, tp)
		t.open.Add(-1)
	}
}

// matches reports whether the tap follows channel ("" matches every tap:
// control actions without a channel).
func (tp *tap) matches(channel string) bool { return matchAny(tp.patterns, channel) }

// matchAny reports whether channel matches one of patterns (none: every
// channel), or is "".
func matchAny(patterns []string, channel string) bool {
	if len(patterns) == 0 || channel == "" {
		return true
	}
	return slices.ContainsFunc(patterns, func(p string) bool {
		ok, err := path.Match(p, channel)
		return p == "*" || (err == nil && ok)
	})
}

// patternList is what the open taps follow, for the other nodes (hello):
// nil when no tap is open, ["*"] when one follows everything.
func (t *taps) patternList() []string {
	if t.open.Load() == 0 {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for tp := range t.set {
		if len(tp.patterns) == 0 {
			return []string{"*"}
		}
		for _, p := range tp.patterns {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// offer queues line without waiting; a full queue drops it (false).
func (tp *tap) offer(line []byte) bool {
	select {
	case tp.lines <- line:
		return true
	default:
		tp.dropped.Add(1)
		return false
	}
}

// fanout encodes v once, if any tap follows channel, and offers it.
func (t *taps) fanout(channel string, v any) {
	t.fanoutLine(channel, func() []byte { return encodeLine(v) })
}

// fanoutLine offers the line build makes (once, when a tap follows
// channel) to every tap that follows channel.
func (t *taps) fanoutLine(channel string, build func() []byte) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var line []byte
	for tp := range t.set {
		if !tp.matches(channel) {
			continue
		}
		if line == nil {
			if line = build(); line == nil {
				return
			}
		}
		if !tp.offer(line) {
			t.dropped.Add(1)
		}
	}
}

// encodeLine is v as one NDJSON line; nil if it cannot be encoded.
func encodeLine(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return append(b, '\n')
}

// tapEvent is an event line of a tap.
type tapEvent struct {
	Kind    string          `json:"kind"` // "event"
	Time    time.Time       `json:"time"`
	Node    string          `json:"node"` // where it was published
	Channel string          `json:"channel"`
	Type    string          `json:"type"`
	Offset  uint64          `json:"offset"`
	Epoch   string          `json:"epoch"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// tapControl is a control line of a tap.
type tapControl struct {
	Kind   string    `json:"kind"` // "control"
	Time   time.Time `json:"time"`
	Node   string    `json:"node"`
	Action Action    `json:"action"`
}

func (t *taps) control(a Action, node string, now time.Time) {
	if t.open.Load() == 0 {
		return
	}
	t.fanout(a.Channel, tapControl{Kind: "control", Time: now.UTC(), Node: node, Action: a})
}

// CloseTaps ends every tap stream and refuses new ones: the composition
// root calls it as a shutdown begins, so that the API's HTTP server need
// not wait for them. Safe to call more than once.
func (p *Plane) CloseTaps() { p.taps.closeAll() }

// ReopenTaps lets taps open again after CloseTaps: a hand-off that failed
// ends the taps (their readers reconnect) and serves on.
func (p *Plane) ReopenTaps() {
	p.taps.mu.Lock()
	p.taps.closed = false
	p.taps.mu.Unlock()
}

// Tapping reports whether a tap is open here or on another node:
// publishing skips Event (and the work of calling it) while none is.
func (p *Plane) Tapping() bool { return p.taps.open.Load() != 0 || p.remoteTapping.Load() }

// Event tells the taps of an event published through this node, here and
// on the nodes whose taps follow its channel (through the bus, from a
// bounded queue: a full one drops). payload is copied when a tap takes
// it. It returns at once while no tap is open anywhere, and never blocks.
// Called from publishing goroutines.
func (p *Plane) Event(channel, eventType string, payload []byte, offset uint64, epoch string) {
	local, remote := p.taps.open.Load() != 0, p.remoteTapping.Load() && p.remoteWants(channel)
	if !local && !remote {
		return
	}
	var line []byte
	build := func() []byte {
		if line == nil {
			var pl json.RawMessage
			if len(payload) > 0 {
				pl = json.RawMessage(slices.Clone(payload))
			}
			line = encodeLine(tapEvent{Kind: "event", Time: p.o.Now().UTC(), Node: p.o.NodeID, Channel: channel,
				Type: eventType, Offset: offset, Epoch: epoch, Payload: pl})
		}
		return line
	}
	if local {
		p.taps.fanoutLine(channel, build)
	}
	if remote {
		select {
		case p.forward <- forwarded{channel: channel, line: build()}:
		default:
			p.stats.tapDropped.Add(1)
		}
	}
}

// forwarded is a tap line on its way to the other nodes.
type forwarded struct {
	channel string
	line    []byte
}

// forwardQueue bounds the tap lines waiting for the bus.
const forwardQueue = 1024

// remoteWants reports whether another node's tap follows channel.
func (p *Plane) remoteWants(channel string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, patterns := range p.remoteTaps {
		if matchAny(patterns, channel) {
			return true
		}
	}
	return false
}

// noteRemoteTaps records what node's taps follow (none: nil). Called with
// p.mu held.
func (p *Plane) noteRemoteTaps(node string, patterns []string) {
	if len(patterns) == 0 {
		delete(p.remoteTaps, node)
	} else {
		p.remoteTaps[node] = patterns
	}
	p.remoteTapping.Store(len(p.remoteTaps) > 0)
}

// forwarder sends queued tap lines to the other nodes until ctx ends.
func (p *Plane) forwarder(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-p.forward:
			b, _ := json.Marshal(envelope{Kind: "tap", From: p.o.NodeID, Channel: f.channel,
				Data: json.RawMessage(bytes.TrimSuffix(f.line, []byte("\n")))})
			sctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
			if err := p.o.Bus.Send(sctx, b); err != nil {
				p.stats.tapDropped.Add(1)
			}
			cancel()
		}
	}
}

// tapFromPeer hands a line another node forwarded to the local taps.
func (p *Plane) tapFromPeer(e envelope) {
	if e.From == p.o.NodeID || p.taps.open.Load() == 0 || len(e.Data) == 0 {
		return
	}
	line := append(slices.Clip([]byte(e.Data)), '\n')
	p.taps.fanoutLine(e.Channel, func() []byte { return line })
}
