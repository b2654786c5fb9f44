package daemon

import (
	"context"
	"sync"
	"sync/atomic"
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
		for _, r := range sh.entries {
			r.s.checkExpiry(now, warn)
		}
		sh.mu.Unlock()
	}
}

// checkExpiry closes the session when its token has expired, and sends the
// warning once per token when the expiry is within warn; a token without
// expiry is left alone.
func (s *Session) checkExpiry(now, warn int64) {
	exp, _ := s.expiry.load()
	switch {
	case exp == 0:
	case now >= exp:
		s.t.Close(CloseTokenExpired, "token expired")
	case now >= exp-warn && s.expiry.warn(exp):
		s.send(marshalReply(expiring{Type: "expiring", ExpiresAt: exp / 1e9, ExpiresInMS: (exp - now) / 1e6}))
	}
}

// expiring is the warning frame: refresh before expires_at.
type expiring struct {
	Type        string `json:"type"`
	ExpiresAt   int64  `json:"expires_at"`
	ExpiresInMS int64  `json:"expires_in_ms"`
}

// tokenExpiry is a session's token expiry and whether its warning was
// sent, in one atomic word: the expiry as UnixNano (0 for none), negated
// once the warning was sent. Two words (an atomic.Int64 and an
// atomic.Bool) cost Session its size class. Set under the session's ctl
// (Connect, refresh, Resume), read and marked warned by the sweeper.
type tokenExpiry struct{ v atomic.Int64 }

// load returns the expiry (UnixNano, 0 for none) and whether its warning
// was sent.
func (e *tokenExpiry) load() (at int64, warned bool) {
	v := e.v.Load()
	if v < 0 {
		return -v, true
	}
	return v, false
}

// set arms the expiry at (UnixNano, 0 for none), its warning sent or not.
// A time before 1970 is kept as 1970's first nanosecond: expired all the
// same, and a negative word means warned.
func (e *tokenExpiry) set(at int64, warned bool) {
	if at < 0 {
		at = 1
	}
	if warned {
		at = -at
	}
	e.v.Store(at)
}

// warn marks the warning of the expiry at (as load returned it) sent, and
// reports whether this call did: false when it was sent already or the
// expiry has changed since (a refresh re-arms the warning).
func (e *tokenExpiry) warn(at int64) bool {
	return at > 0 && e.v.CompareAndSwap(at, -at)
}
