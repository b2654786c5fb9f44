package loadgen

import (
	"errors"
	"net"
	"strings"
	"sync"
)

// maxTallyKeys bounds the distinct reasons kept: a report lists the few
// causes that matter, and a flood of distinct messages cannot grow memory.
const maxTallyKeys = 16

// tally counts errors by reason. Safe for concurrent use; rare path only
// (failures and disconnects), so a mutex is fine.
type tally struct {
	mu sync.Mutex
	m  map[string]int64
}

func (t *tally) add(err error) {
	key := errKey(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]int64)
	}
	if _, ok := t.m[key]; !ok && len(t.m) >= maxTallyKeys {
		key = "other"
	}
	t.m[key]++
}

func (t *tally) snapshot() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(t.m))
	for k, v := range t.m {
		out[k] = v
	}
	return out
}

// errKey is err's message without the addresses of a *net.OpError, which
// differ per connection ("dial tcp 127.0.0.2:40312->127.0.0.1:8080: …"
// becomes "dial: …"), so equal causes count together.
func errKey(err error) string {
	msg := err.Error()
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		msg = strings.Replace(msg, op.Error(), op.Op+": "+op.Err.Error(), 1)
	}
	return msg
}

// mergeCounts adds src into dst, allocating dst if needed.
func mergeCounts(dst, src map[string]int64) map[string]int64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]int64, len(src))
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}
