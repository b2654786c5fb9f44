package fanoutd

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/netpoll"
)

func TestProbeGoesThroughTransportAndHub(t *testing.T) {
	d := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := d.srv.Stats()
	for range 3 {
		if err := d.srv.Probe(ctx); err != nil {
			t.Fatal(err)
		}
	}
	after := d.srv.Stats()
	if got := after.Published - before.Published; got != 3 {
		t.Errorf("%d probe events published, want 3", got)
	}
	if got := after.Delivered - before.Delivered; got != 3 {
		t.Errorf("%d probe events delivered, want 3", got)
	}
	if after.Connections != before.Connections || after.Channels != before.Channels || after.Subscriptions != before.Subscriptions {
		t.Errorf("the probe left state behind: before %+v, after %+v", before.Stats, after.Stats)
	}
}

// A daemon answers probes from New on (READY is sent before Run), and
// fails them once shut down.
func TestProbeFromNewToShutdown(t *testing.T) {
	cfg := config.Default()
	cfg.Socket = ""
	cfg.Auth.HMACSecret = testSecret
	// The test's own listener: Shutdown closes only listeners that Run
	// served, and one left to the garbage collector would close in the
	// middle of another test's descriptor count.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	srv, err := New(Options{Config: cfg, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Probe(ctx); err != nil {
		t.Fatalf("probe before Run: %v", err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Probe(ctx); !errors.Is(err, netpoll.ErrServerClosed) {
		t.Fatalf("probe of a stopped daemon: %v, want ErrServerClosed", err)
	}
}
