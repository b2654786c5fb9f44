package fanoutd

import (
	"os"
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd/config"
)

// TestSocketPeerAllowlist: with socket_peer_uids set, the publish API on the
// socket serves only those peers; the test process is the peer.
func TestSocketPeerAllowlist(t *testing.T) {
	others := startDaemon(t, func(c *config.Config) { c.SocketPeerUIDs = []int{65534} })
	code, body := others.post("application/json", `{"channel":"a","type":"t"}`)
	if code != 403 || !strings.Contains(body, "not allowed") {
		t.Fatalf("foreign peer: %d %s, want 403", code, body)
	}
	self := startDaemon(t, func(c *config.Config) { c.SocketPeerUIDs = []int{os.Getuid()} })
	if code, body := self.post("application/json", `{"channel":"a","type":"t"}`); code != 200 {
		t.Fatalf("allowed peer: %d %s, want 200", code, body)
	}
}
