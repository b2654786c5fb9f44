package netpoll

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// TestSetLimitsAppliesToOpenConnections: a message size lowered on a
// running server refuses the next message over it, on a connection opened
// before the change.
func TestSetLimitsAppliesToOpenConnections(t *testing.T) {
	srv, h, addr := startServer(t, Options{MaxMessageSize: 4096})
	c, _ := connect(t, addr)
	big := bytes.Repeat([]byte("a"), 1000)
	c.Write(frame(true, ws.OpText, big, true))
	if _, p := c.ReadFrame(); len(p) != len(big) {
		t.Fatalf("echo of %d bytes, want %d", len(p), len(big))
	}
	srv.SetLimits(Limits{MaxMessageSize: 512})
	if got := srv.lim(); got.MaxMessageSize != 512 || got.MaxFragments != 64 || got.WriteQueueBytes != 1<<20 {
		t.Fatalf("limits %+v: want 512 and the defaults for the zero fields", got)
	}
	c.Write(frame(true, ws.OpText, big, true))
	if code := c.ReadClose(); code != CloseTooBig {
		t.Fatalf("close code %d after the limit was lowered, want %d", code, CloseTooBig)
	}
	if code := h.session(t, 0).waitClosed(t); code != CloseTooBig {
		t.Fatalf("session closed with %d", code)
	}
}

// TestSetLimitsPerIP: a per-address cap turned on by SetLimits applies to
// the next connection, counting the ones already open.
func TestSetLimitsPerIP(t *testing.T) {
	srv, _, addr := startServer(t, Options{})
	connect(t, addr)
	srv.SetLimits(Limits{MaxConnsPerIP: 2})
	connect(t, addr)
	_, head := connect(t, addr)
	if !strings.HasPrefix(head, "HTTP/1.1 429 ") {
		t.Fatalf("third connection from one address under a cap of 2: %q", head)
	}
}
