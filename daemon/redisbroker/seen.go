package redisbroker

import "sync"

// highWater remembers, per channel, the highest position this node saw
// (delivered, published or read), so that the scripts can tell a rollback
// of Redis's data from continuity (see continuity). Bounded: past
// maxSeen channels it starts over, which only weakens the second proof
// for a while (the run_id proof stays).
type highWater struct {
	mu sync.Mutex
	m  map[string]seenPos // by channel
}

type seenPos struct {
	epoch  string
	offset uint64
}

const maxSeen = 1 << 16

func (h *highWater) init() { h.m = make(map[string]seenPos) }

// note records a position of channel.
func (h *highWater) note(channel, epoch string, offset uint64) {
	if epoch == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.m[channel]
	if ok && p.epoch == epoch && p.offset >= offset {
		return
	}
	if !ok && len(h.m) >= maxSeen {
		clear(h.m)
	}
	h.m[channel] = seenPos{epoch, offset}
}

// get returns channel's highest position seen ("" and 0 for none).
func (h *highWater) get(channel string) (string, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.m[channel]
	return p.epoch, p.offset
}
