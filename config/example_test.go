package config_test

import (
	"fmt"

	"github.com/fanoutd/fanoutd/config"
	"github.com/spf13/pflag"
)

// A command registers the documented flags next to its own, parses them and
// hands the set to Load; only flags actually given override the file and the
// environment.
func ExampleLoad() {
	fs := pflag.NewFlagSet("fanoutd", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	_ = fs.Parse([]string{"--dev", "--workers=8"})

	cfg, err := config.Load(config.Source{
		Flags:   fs,
		Environ: []string{"FANOUTD_LISTEN=0.0.0.0:9000", "FANOUTD_HEARTBEAT_INTERVAL=15s"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Listen, cfg.Workers, cfg.Dev, cfg.Heartbeat.Interval)
	// Output: 0.0.0.0:9000 8 true 15s
}

// Every problem is reported at once, one line per key.
func ExampleConfig_Validate() {
	cfg := config.Default()
	cfg.WSPath = "ws"
	cfg.Heartbeat.Timeout = 0
	fmt.Println(cfg.Validate())
	// Output:
	// ws_path: must start with "/" (got "ws")
	// heartbeat.timeout: must be > 0 (got 0s)
	// auth: one of auth.hmac_secret or auth.hmac_secret_file is required (or run with --dev)
}
