package fanoutd

import (
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/netpoll"
)

// The core's slow-consumer policies are the transport's: a difference
// would be an array of negative or non-zero length. The policies' behaviour
// on real sockets is tested in netpoll (policy_conn_test.go), the missed
// notice in daemon (TestDropOldestTellsTheClient).
var (
	_ [0]struct{} = [daemon.PolicyDisconnect - netpoll.PolicyDisconnect]struct{}{}
	_ [0]struct{} = [daemon.PolicyDropOldest - netpoll.PolicyDropOldest]struct{}{}
	_ [0]struct{} = [daemon.PolicyLatest - netpoll.PolicyLatest]struct{}{}
)

// TestChannelOptionsFromConfig: per-prefix classes inherit what they leave
// out from the daemon-wide settings (compression: auto above 512 bytes by
// default; off, on, or another threshold per class), and the watchdog's
// channels keep no history and are never compressed.
func TestChannelOptionsFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.SlowConsumer, cfg.JoinLeave = "drop-oldest", true
	ten, ttl, no, kib := 10, 30*time.Second, false, 1024
	cfg.Channels = []config.ChannelClass{
		{Prefix: "metrics:", HistorySize: &ten, HistoryTTL: &ttl, SlowConsumer: "latest", JoinLeave: &no, Compression: "off"},
		{Prefix: "project:"},
		{Prefix: "snap:", Compression: "on"},
		{Prefix: "big:", CompressionMinBytes: &kib},
	}
	def, classes := channelOptions(cfg)
	want := daemon.ChannelOptions{HistorySize: 100, HistoryTTL: 5 * time.Minute, SlowConsumer: daemon.PolicyDropOldest, JoinLeave: true,
		CompressMin: 512}
	on, big := want, want
	on.CompressMin, big.CompressMin = 1, 1024
	if def != want {
		t.Errorf("default %+v, want %+v", def, want)
	}
	wantClasses := []daemon.ChannelClass{
		{Prefix: "metrics:", ChannelOptions: daemon.ChannelOptions{HistorySize: 10, HistoryTTL: ttl, SlowConsumer: daemon.PolicyLatest}},
		{Prefix: "project:", ChannelOptions: want},
		{Prefix: "snap:", ChannelOptions: on},
		{Prefix: "big:", ChannelOptions: big},
		{Prefix: probeChannelPrefix},
		{Prefix: statusChannel},
	}
	if len(classes) != len(wantClasses) {
		t.Fatalf("classes %+v, want %+v", classes, wantClasses)
	}
	for i := range classes {
		if classes[i] != wantClasses[i] {
			t.Errorf("class %d = %+v, want %+v", i, classes[i], wantClasses[i])
		}
	}
}
