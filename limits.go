package fanoutd

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/fanoutd/fanoutd/netpoll"
	"golang.org/x/time/rate"
)

// connLimits enforces the handshake-time limits: connections per client
// address and per user, and the daemon-wide upgrade rate. A connection
// holds its slots until it closes (limitedSession releases them).
//
// The caps are reloadable: they sit behind an atomic pointer, and each
// upgrade decides with one snapshot of them. A connection is counted only
// if a cap was on when it was accepted, so a cap turned on by a reload
// counts the connections accepted from then on; the ones already open do
// not count against it (the daemon keeps no per-connection record of who
// it was when no cap asked for one).
type connLimits struct {
	cur atomic.Pointer[limitSettings]

	mu     sync.Mutex
	byIP   map[netip.Addr]int
	byUser map[string]int
}

// limitSettings is one version of the caps; immutable once published.
type limitSettings struct {
	perIP, perUser int
	rate           int
	upgrades       *rate.Limiter // nil: no cap
}

func newConnLimits(perIP, perUser, upgradesPerSecond int) *connLimits {
	l := &connLimits{byIP: map[netip.Addr]int{}, byUser: map[string]int{}}
	l.set(perIP, perUser, upgradesPerSecond)
	return l
}

// set publishes new caps. An unchanged upgrade rate keeps its limiter, so
// a reload does not hand out a fresh burst.
func (l *connLimits) set(perIP, perUser, upgradesPerSecond int) {
	ls := &limitSettings{perIP: perIP, perUser: perUser, rate: upgradesPerSecond}
	if old := l.cur.Load(); old != nil && old.rate == upgradesPerSecond {
		ls.upgrades = old.upgrades
	} else if upgradesPerSecond > 0 {
		ls.upgrades = rate.NewLimiter(rate.Limit(upgradesPerSecond), upgradesPerSecond)
	}
	l.cur.Store(ls)
}

// settings is the caps in force: take it once per upgrade.
func (l *connLimits) settings() *limitSettings { return l.cur.Load() }

// tracking reports whether connections need a slot released at close.
func (ls *limitSettings) tracking() bool { return ls.perIP > 0 || ls.perUser > 0 }

// allowUpgrade takes one token of the upgrade rate.
func (ls *limitSettings) allowUpgrade() bool { return ls.upgrades == nil || ls.upgrades.Allow() }

// acquireIP takes a slot for addr; false when it has perIP connections.
func (l *connLimits) acquireIP(ls *limitSettings, addr netip.Addr) bool {
	return l.acquire(ls, func() bool {
		if ls.perIP > 0 && l.byIP[addr] >= ls.perIP {
			return false
		}
		l.byIP[addr]++
		return true
	})
}

// acquireUser takes a slot for sub; false when it has perUser connections.
// Anonymous connections (sub "") are bounded per address only.
func (l *connLimits) acquireUser(ls *limitSettings, sub string) bool {
	if sub == "" {
		return true
	}
	return l.acquire(ls, func() bool {
		if ls.perUser > 0 && l.byUser[sub] >= ls.perUser {
			return false
		}
		l.byUser[sub]++
		return true
	})
}

func (l *connLimits) acquire(ls *limitSettings, f func() bool) bool {
	if !ls.tracking() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return f()
}

// release gives back the slots of one connection that was tracked under
// ls; user may be "" when only the address slot was taken.
func (l *connLimits) release(ls *limitSettings, addr netip.Addr, user string) {
	if !ls.tracking() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	decrement(l.byIP, addr)
	if user != "" {
		decrement(l.byUser, user)
	}
}

func decrement[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k) // keeps the maps as small as the live connections
		return
	}
	m[k]--
}

// limitedSession releases the connection's slots when it closes, under the
// caps it was accepted with: before the session hears of the close, so that
// once the node stops counting the connection (Stats, /v1/stats) its slots
// are free and a client reconnecting at once is not refused for it. The
// socket is gone by then; nothing of the old connection overlaps the new.
type limitedSession struct {
	netpoll.Session
	limits *connLimits
	ls     *limitSettings
	addr   netip.Addr
	user   string
}

func (s *limitedSession) Closed(code int) {
	s.limits.release(s.ls, s.addr, s.user)
	s.Session.Closed(code)
}

var _ netpoll.Session = (*limitedSession)(nil)

// clientAddr is the peer's IP, IPv4-mapped addresses unmapped so that one
// client counts once.
func clientAddr(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// take counts a connection handed over by another process: its slots
// were granted there, so it is counted whatever the limits say now.
func (l *connLimits) take(ls *limitSettings, addr netip.Addr, user string) {
	if !ls.tracking() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byIP[addr]++
	if user != "" {
		l.byUser[user]++
	}
}
