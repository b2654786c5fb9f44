package fanoutd

import (
	"net"
	"net/netip"
	"sync"

	"github.com/fanoutd/fanoutd/netpoll"
	"golang.org/x/time/rate"
)

// connLimits enforces the handshake-time limits: connections per client
// address and per user, and the daemon-wide upgrade rate. A connection
// holds its slots until it closes (limitedSession releases them).
type connLimits struct {
	perIP, perUser int
	upgrades       *rate.Limiter // nil: no cap

	mu     sync.Mutex
	byIP   map[netip.Addr]int
	byUser map[string]int
}

func newConnLimits(perIP, perUser, upgradesPerSecond int) *connLimits {
	l := &connLimits{perIP: perIP, perUser: perUser, byIP: map[netip.Addr]int{}, byUser: map[string]int{}}
	if upgradesPerSecond > 0 {
		l.upgrades = rate.NewLimiter(rate.Limit(upgradesPerSecond), upgradesPerSecond)
	}
	return l
}

// tracking reports whether connections need a slot released at close.
func (l *connLimits) tracking() bool { return l.perIP > 0 || l.perUser > 0 }

// allowUpgrade takes one token of the upgrade rate.
func (l *connLimits) allowUpgrade() bool { return l.upgrades == nil || l.upgrades.Allow() }

// acquireIP takes a slot for addr; false when it has perIP connections.
func (l *connLimits) acquireIP(addr netip.Addr) bool {
	return l.acquire(func() bool {
		if l.perIP > 0 && l.byIP[addr] >= l.perIP {
			return false
		}
		l.byIP[addr]++
		return true
	})
}

// acquireUser takes a slot for sub; false when it has perUser connections.
// Anonymous connections (sub "") are bounded per address only.
func (l *connLimits) acquireUser(sub string) bool {
	if sub == "" {
		return true
	}
	return l.acquire(func() bool {
		if l.perUser > 0 && l.byUser[sub] >= l.perUser {
			return false
		}
		l.byUser[sub]++
		return true
	})
}

func (l *connLimits) acquire(f func() bool) bool {
	if !l.tracking() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return f()
}

// release gives back the slots of one connection; user may be "" when
// only the address slot was taken.
func (l *connLimits) release(addr netip.Addr, user string) {
	if !l.tracking() {
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

// limitedSession releases the connection's slots when it closes.
type limitedSession struct {
	netpoll.Session
	limits *connLimits
	addr   netip.Addr
	user   string
}

func (s *limitedSession) Closed(code int) {
	s.Session.Closed(code)
	s.limits.release(s.addr, s.user)
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
