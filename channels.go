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
		classes[i] = daemon.ChannelClass{Prefix: c.Prefix, ChannelOptions: o}
	}
	// The daemon's own channels keep no history.
	classes = append(classes, daemon.ChannelClass{Prefix: probeChannelPrefix}, daemon.ChannelClass{Prefix: statusChannel})
	return def, classes
}
