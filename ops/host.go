package ops

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// hostAllowed reports whether the console answers a request whose Host
// header is host, on a listener configured at listen and bound at bound.
// The console hands out a token, and DNS rebinding (a page of evil.example
// whose name is made to resolve to this daemon) would read it in the
// visitor's browser: the Host it sends is then evil.example, never one of
// the daemon's own names. Accepted, without regard to case, a trailing dot
// or the port (a rebinding page uses the daemon's port anyway):
//   - the configured listen address's host, when it is a name;
//   - an IP literal that is the bound address, or a loopback address when
//     the listener is on loopback, or any IP literal when the listener is on
//     the wildcard address (its own addresses are unknown, and an address
//     cannot be rebound: the origin is the address itself);
//   - "localhost" when the listener is on loopback or the wildcard address;
//   - status.allowed_hosts.
func hostAllowed(host, listen string, bound net.Addr, allowed []string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	if name == "" {
		return false
	}
	listenHost, _, _ := net.SplitHostPort(listen)
	listenHost = strings.ToLower(strings.TrimSuffix(listenHost, "."))
	var bip netip.Addr
	if ta, ok := bound.(*net.TCPAddr); ok {
		bip, _ = netip.AddrFromSlice(ta.IP)
		bip = bip.Unmap()
	}
	wildcard := bip.IsUnspecified()
	loopback := bip.IsLoopback()
	if ip, err := netip.ParseAddr(name); err == nil {
		ip = ip.Unmap()
		return wildcard || ip == bip || (loopback && ip.IsLoopback())
	}
	if name == "localhost" && (loopback || wildcard) {
		return true
	}
	if _, err := netip.ParseAddr(listenHost); err != nil && listenHost != "" && name == listenHost {
		return true
	}
	return slices.ContainsFunc(allowed, func(a string) bool {
		return strings.EqualFold(strings.TrimSuffix(a, "."), name)
	})
}

// hostAllowed is hostAllowed under settings st.
func (st Settings) hostAllowed(host string) bool {
	return hostAllowed(host, st.Listen, st.Bound, st.AllowedHosts)
}
