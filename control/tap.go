package control

import (
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

	mu  sync.RWMutex
	set map[*tap]struct{}
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
	if len(t.set) >= t.max {
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

// closeAll ends every tap (the plane stops).
func (t *taps) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for tp := range t.set {
		close(tp.closed)
		delete(t.set, tp)
		t.open.Add(-1)
	}
}

// matches reports whether the tap follows channel ("" matches every tap:
// control actions without a channel).
func (tp *tap) matches(channel string) bool {
	if len(tp.patterns) == 0 || channel == "" {
		return true
	}
	return slices.ContainsFunc(tp.patterns, func(p string) bool {
		ok, err := path.Match(p, channel)
		return p == "*" || (err == nil && ok)
	})
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
	t.mu.RLock()
	defer t.mu.RUnlock()
	var line []byte
	for tp := range t.set {
		if !tp.matches(channel) {
			continue
		}
		if line == nil {
			b, err := json.Marshal(v)
			if err != nil {
				return
			}
			line = append(b, '\n')
		}
		if !tp.offer(line) {
			t.dropped.Add(1)
		}
	}
}

// tapEvent is an event line of a tap.
type tapEvent struct {
	Kind    string          `json:"kind"` // "event"
	Time    time.Time       `json:"time"`
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

// Tapping reports whether a tap is open: publishing skips Event (and
// the work of calling it) while none is.
func (p *Plane) Tapping() bool { return p.taps.open.Load() != 0 }

// Event tells the taps of an event published through this node. payload
// is copied when a tap takes it. It returns at once while no tap is open,
// and never blocks. Called from publishing goroutines.
func (p *Plane) Event(channel, eventType string, payload []byte, offset uint64, epoch string) {
	if p.taps.open.Load() == 0 {
		return
	}
	var pl json.RawMessage
	if len(payload) > 0 {
		pl = json.RawMessage(slices.Clone(payload))
	}
	p.taps.fanout(channel, tapEvent{Kind: "event", Time: p.o.Now().UTC(), Channel: channel, Type: eventType,
		Offset: offset, Epoch: epoch, Payload: pl})
}
