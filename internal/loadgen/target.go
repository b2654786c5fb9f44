package loadgen

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
)

// Target is a validated WebSocket endpoint on this machine.
type Target struct {
	Addr string `json:"addr"` // ip:port to dial
	Host string `json:"host"` // Host header, as the URL spelled it
	Path string `json:"path"` // request path, with the query if any
}

// ParseTarget accepts only ws:// URLs whose host is an IPv4 literal in
// 127.0.0.0/8 or "localhost" (taken as 127.0.0.1, not resolved: a resolver
// could send the load elsewhere). Everything else wraps ErrNotLoopback or
// ErrConfig.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("%w: --url: %w", ErrConfig, err)
	}
	if u.Scheme != "ws" {
		return Target{}, fmt.Errorf("%w: --url %q: want ws:// (loopback needs no TLS)", ErrConfig, raw)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return Target{}, fmt.Errorf("%w: --url %q: bad port", ErrConfig, raw)
	}
	ip := host
	if host == "localhost" {
		ip = "127.0.0.1"
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() || a.As4()[0] != 127 { // 127.0.0.0/8

		return Target{}, fmt.Errorf("%w: --url host %q", ErrNotLoopback, host)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return Target{Addr: net.JoinHostPort(a.String(), port), Host: u.Host, Path: path}, nil
}

// SourceIP is the k-th source address: 127.0.0.2, 127.0.0.3, … Each has its
// own ~28k ephemeral ports towards the daemon.
func SourceIP(k int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 0, byte((k + 2) / 256), byte((k + 2) % 256)})
}

// checkLoopbackAddr accepts only an ip:port in 127.0.0.0/8.
func checkLoopbackAddr(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() || ap.Addr().As4()[0] != 127 {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}
