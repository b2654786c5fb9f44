package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/ipc"
)

// TestSIGTERMDrains runs fanoutd as systemd would and stops it with
// SIGTERM right after a publish: every subscriber gets the event, then
// close 1012 with a reconnect hint; the daemon tells the manager
// STOPPING=1 and EXTEND_TIMEOUT_USEC, and exits 0.
func TestSIGTERMDrains(t *testing.T) {
	m := newManager(t)
	cfg, err := os.ReadFile(m.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, m.config, string(cfg)+"drain:\n  window: 200ms\n  close_code: 1012\n")
	p := m.start(0)
	m.expect("READY=1")
	subs := make([]*subscriber, 5)
	for i := range subs {
		subs[i] = m.subscribe("project:a", nil)
	}
	pub := ipc.NewClient(m.socket())
	defer pub.Close()
	publish(t, pub, "project:a", "before.sigterm")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, s := range subs {
		s.expect(`"type":"before.sigterm"`)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _, err := s.c.Read(ctx)
		cancel()
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1012 || !strings.HasPrefix(ce.Reason, `{"reconnect_after_ms":`) {
			t.Fatalf("subscriber %d: %v, want close 1012 with a reconnect hint", i, err)
		}
	}
	before := m.expect("STOPPING=1")
	extend := m.expect("EXTEND_TIMEOUT_USEC=*")
	if len(before) != 0 || len(extend) != 0 {
		t.Errorf("other states around the stop: %q %q", before, extend)
	}
	p.wait() // fails unless the exit code is 0
}
