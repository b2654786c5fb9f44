package fanoutd

import (
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon"
)

// policies maps slow_consumer values to the core's policies.
var policies = map[string]int{
	"disconnect":  daemon.PolicyDisconnect,
	"drop-oldest": daemon.PolicyDropOldest,
	"latest":      daemon.PolicyLatest,
}

// channelOptions turns the channel settings of cfg into the core's: the
// daemon-wide defaults, and each class with what it leaves out filled from
// them.
func channelOptions(cfg config.Config) (daemon.ChannelOptions, []daemon.ChannelClass) {
	def := daemon.ChannelOptions{
		HistorySize:  cfg.History.Size,
		HistoryTTL:   cfg.History.TTL,
		SlowConsumer: policies[cfg.SlowConsumer],
		JoinLeave:    cfg.JoinLeave,
		CompressMin:  compressMin(cfg.Compression.Mode, cfg.Compression.MinBytes),
	}
	classes := make([]daemon.ChannelClass, len(cfg.Channels), len(cfg.Channels)+1)
	for i, c := range cfg.Channels {
		o := def
		if c.HistorySize != nil {
			o.HistorySize = *c.HistorySize
		}
		if c.HistoryTTL != nil {
			o.HistoryTTL = *c.HistoryTTL
		}
		if c.SlowConsumer != "" {
			o.SlowConsumer = policies[c.SlowConsumer]
		}
		if c.JoinLeave != nil {
			o.JoinLeave = *c.JoinLeave
		}
		if c.Compression != "" || c.CompressionMinBytes != nil {
			mode, min := cfg.Compression.Mode, cfg.Compression.MinBytes
			if c.Compression != "" {
				mode = c.Compression
			}
			if c.CompressionMinBytes != nil {
				min = *c.CompressionMinBytes
			}
			o.CompressMin = compressMin(mode, min)
		}
		classes[i] = daemon.ChannelClass{Prefix: c.Prefix, ChannelOptions: o}
	}
	// The daemon's own channels keep no history.
	classes = append(classes, daemon.ChannelClass{Prefix: probeChannelPrefix}, daemon.ChannelClass{Prefix: statusChannel})
	return def, classes
}

// compressMin turns a compression mode and threshold into the core's
// ChannelOptions.CompressMin: 0 for off, 1 for on (every non-empty frame).
func compressMin(mode string, minBytes int) int {
	switch mode {
	case "on":
		return 1
	case "auto":
		return minBytes
	}
	return 0
}
