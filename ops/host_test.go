package ops

import (
	"net"
	"testing"
)

// TestHostAllowedByListener: what the console answers to depends on
// where the listener is bound (the root's TestStatusPageChecksHost covers
// a loopback listener through a daemon).
func TestHostAllowedByListener(t *testing.T) {
	wild := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	lan := &net.TCPAddr{IP: net.IPv4(192, 168, 1, 5), Port: 8080}
	cases := []struct {
		host, listen string
		bound        net.Addr
		want         bool
	}{
		{"10.0.0.7:8080", ":8080", wild, true}, // an address cannot be rebound
		{"localhost:8080", ":8080", wild, true},
		{"fanout.internal:8080", ":8080", wild, false},
		{"fanout.internal:8080", "fanout.internal:8080", lan, true},
		{"FANOUT.internal.:8080", "fanout.internal:8080", lan, true},
		{"192.168.1.5:8080", "192.168.1.5:8080", lan, true},
		{"127.0.0.1:8080", "192.168.1.5:8080", lan, false},
		{"localhost:8080", "192.168.1.5:8080", lan, false},
		{"ops.example.com", "192.168.1.5:8080", lan, true}, // status.allowed_hosts
		{"", ":8080", wild, false},
	}
	for _, c := range cases {
		if got := hostAllowed(c.host, c.listen, c.bound, []string{"ops.example.com"}); got != c.want {
			t.Errorf("Host %q on %s (bound %v): %v, want %v", c.host, c.listen, c.bound, got, c.want)
		}
	}
}
