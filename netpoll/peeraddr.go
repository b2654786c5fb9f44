package netpoll

import "net/netip"

// peerAddr is a connection's remote TCP address in 19 bytes, where a
// netip.AddrPort takes 32 (its Addr holds a pointer beside the 128-bit
// address): every held connection keeps one (TestConnSize). An IPv6
// zone, which only a listener's net.Conn or an adopted connection's
// exported address can carry (accepted sockets give none), is the rare
// case: it is kept in Server.zones, keyed by the connection, until its
// socket is closed or handed off.
type peerAddr struct {
	ip   [16]byte // an IPv4 address in the last 4 bytes
	port [2]byte  // big-endian; bytes keep the struct 1-aligned, hence 19 bytes
	kind uint8
}

// peerAddr kinds. peer4 and peer6 keep netip's distinction between an IPv4
// address and an IPv4-mapped IPv6 one.
const (
	peerNone  uint8 = iota // no TCP address (a listener of another kind)
	peer4                  // IPv4
	peer6                  // IPv6 without a zone
	peer6Zone              // IPv6 with the zone kept in Server.zones
)

// setRemote records ap as c's peer address; c.srv must be set.
func (c *Conn) setRemote(ap netip.AddrPort) {
	a, p := ap.Addr(), ap.Port()
	r := peerAddr{ip: a.As16(), port: [2]byte{byte(p >> 8), byte(p)}}
	switch {
	case !a.IsValid():
		r = peerAddr{}
	case a.Is4():
		r.kind = peer4
	case a.Zone() == "":
		r.kind = peer6
	default:
		r.kind = peer6Zone
		c.srv.zones.Store(c, a.Zone())
	}
	c.raddr = r
}

// remote is c's peer address as setRemote was given it; invalid when none.
// A zoned address asked for after its socket was closed comes back
// without its zone.
func (c *Conn) remote() netip.AddrPort {
	r := &c.raddr
	var a netip.Addr
	switch r.kind {
	case peerNone:
		return netip.AddrPort{}
	case peer4:
		a = netip.AddrFrom4([4]byte(r.ip[12:]))
	default:
		a = netip.AddrFrom16(r.ip)
		if r.kind == peer6Zone {
			z, _ := c.srv.zones.Load(c)
			zone, _ := z.(string)
			a = a.WithZone(zone)
		}
	}
	return netip.AddrPortFrom(a, uint16(r.port[0])<<8|uint16(r.port[1]))
}

// forgetZone drops c's entry in Server.zones, if it has one: when its socket
// is closed or handed off.
func (c *Conn) forgetZone() {
	if c.raddr.kind == peer6Zone {
		c.srv.zones.Delete(c)
	}
}
