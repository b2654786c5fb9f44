package control

import (
	"context"
	"errors"
	"sync"
)

// fakeNode records what the plane asked of it.
type fakeNode struct {
	mu    sync.Mutex
	calls []string
	n     int // what each action reports as applied
	// refuse is the channel name CheckChannel refuses.
	refuse string
}

func (f *fakeNode) record(s string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.n
}

func (f *fakeNode) Disconnect(by, value string, code int, reason string) int {
	return f.record("disconnect " + by + "=" + value)
}

func (f *fakeNode) SubscribeServer(by, value, channel string) int {
	return f.record("subscribe " + by + "=" + value + " " + channel)
}

func (f *fakeNode) UnsubscribeServer(by, value, channel, reason string) int {
	return f.record("unsubscribe " + by + "=" + value + " " + channel)
}

func (f *fakeNode) Connections(user, channel string) any { return []string{} }

func (f *fakeNode) History(context.Context, string, uint64, string, bool, int) (any, error) {
	return map[string]any{}, nil
}

func (f *fakeNode) ClearHistory(context.Context, string) error { f.record("clear"); return nil }

func (f *fakeNode) CheckChannel(channel string) error {
	if f.refuse != "" && channel == f.refuse {
		return errors.New("invalid channel name")
	}
	return nil
}

// hubBus is a broadcast bus shared by several planes in one process, as
// Redis pub/sub would be.
type hubBus struct {
	mu   sync.Mutex
	subs []chan []byte
}

type hubPort struct {
	h *hubBus
	q chan []byte
}

func (h *hubBus) port() *hubPort {
	p := &hubPort{h: h, q: make(chan []byte, 1024)}
	h.mu.Lock()
	h.subs = append(h.subs, p.q)
	h.mu.Unlock()
	return p
}

func (p *hubPort) Send(ctx context.Context, msg []byte) error {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	for _, q := range p.h.subs {
		select {
		case q <- msg:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *hubPort) Receive(ctx context.Context, f func([]byte)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-p.q:
			f(m)
		}
	}
}
