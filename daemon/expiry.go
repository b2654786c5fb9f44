package daemon

import (
	"context"
	"sync"
	"time"
)

// CloseTokenExpired is the close code of a connection whose token expired
// without a refresh (PROTOCOL.md).
const CloseTokenExpired = 4003

// expirySweepInterval is how often Run looks for expiring tokens: the
// warning and the close come at most this late.
const expirySweepInterval = time.Second

// Run does the node's periodic work until ctx ends, once a second: token
// expiries (a connection gets an "expiring" frame ExpiryWarning before its
// token expires and is closed with CloseTokenExpired when it does, unless
// it refreshed), history past its TTL, and idempotency keys past their
// window. The composition root runs it beside the transport; without it
// tokens never expire on live connections and an idle channel's history
// is only trimmed by its next publish.
func (n *Node) Run(ctx context.Context) {
	if n.presenceOps != nil {
		var presence sync.WaitGroup
		presence.Go(func() { n.runPresence(ctx) })
		defer presence.Wait() // Run leaves nothing running behind it
	}
	t := time.NewTicker(expirySweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.SweepExpiries()
			n.SweepHistory()
		}
	}
}

// SweepExpiries warns and closes the sessions whose tokens expire, as of
// Options.Now; Run calls it every second. It scans the registry, one
// sweeper instead of one timer per connection (a scan of 10,000 sessions
// once a second costs less than their timers would), and passes over the
// sessions whose token does not expire. Transport calls never block, so
// they are made under the registry's shard lock. A frozen node skips its
// turn.
func (n *Node) SweepExpiries() {
	if !n.gate.tryEnter() {
		return // frozen for a hand-off: the new process sweeps
	}
	defer n.gate.leave()
	now := n.opts.Now().UnixNano()
	warn := n.set().ExpiryWarning.Nanoseconds()
	for i := range n.reg.shards {
		sh := &n.reg.shards[i]
		sh.mu.Lock()
		for s := range sh.m {
			if s.expires.Load() != 0 {
				s.checkExpiry(now, warn)
			}
		}
		sh.mu.Unlock()
	}
}

// checkExpiry closes the session when its token has expired, and sends the
// warning once per token when the expiry is within warn.
func (s *Session) checkExpiry(now, warn int64) {
	exp := s.expires.Load()
	switch {
	case now >= exp:
		s.t.Close(CloseTokenExpired, "token expired")
	case now >= exp-warn && !s.warned.Swap(true):
		s.send(marshalReply(expiring{Type: "expiring", ExpiresAt: exp / 1e9, ExpiresInMS: (exp - now) / 1e6}))
	}
}

// expiring is the warning frame: refresh before expires_at.
type expiring struct {
	Type        string `json:"type"`
	ExpiresAt   int64  `json:"expires_at"`
	ExpiresInMS int64  `json:"expires_in_ms"`
}
