package netpoll

import (
	"net/netip"
	"testing"
)

// TestPeerAddrRoundTrip: the compact peer address gives back exactly the
// netip.AddrPort it was given (IPv4 and IPv4-mapped IPv6 kept apart, a
// zone kept aside and forgotten with the socket), and the per-address cap
// counts an IPv4 client once whichever way it came.
func TestPeerAddrRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ap   netip.AddrPort
		addr netip.Addr // what the per-address cap counts
	}{
		{"none", netip.AddrPort{}, netip.Addr{}},
		{"ipv4", netip.MustParseAddrPort("192.0.2.7:40001"), netip.MustParseAddr("192.0.2.7")},
		{"ipv4 mapped", netip.MustParseAddrPort("[::ffff:192.0.2.7]:65535"), netip.MustParseAddr("192.0.2.7")},
		{"ipv6", netip.MustParseAddrPort("[2001:db8::1]:443"), netip.MustParseAddr("2001:db8::1")},
		{"ipv6 zone", netip.MustParseAddrPort("[fe80::1%eth0]:1"), netip.MustParseAddr("fe80::1%eth0")},
		{"port 0", netip.MustParseAddrPort("10.0.0.1:0"), netip.MustParseAddr("10.0.0.1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Conn{srv: &Server{}}
			c.setRemote(tc.ap)
			if got := c.remote(); got != tc.ap {
				t.Fatalf("remote() = %v, want %v", got, tc.ap)
			}
			if got := c.addr(); got != tc.addr {
				t.Fatalf("addr() = %v, want %v", got, tc.addr)
			}
			c.forgetZone()
			n := 0
			c.srv.zones.Range(func(any, any) bool { n++; return true })
			if n != 0 {
				t.Fatalf("%d zones kept after forgetZone", n)
			}
			if want := netip.AddrPortFrom(tc.ap.Addr().WithZone(""), tc.ap.Port()); c.remote() != want {
				t.Fatalf("remote() after forgetZone = %v, want %v", c.remote(), want)
			}
		})
	}
}
