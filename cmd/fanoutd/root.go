package main

import (
	"github.com/fanoutd/fanoutd/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func newRootCmd() *cobra.Command {
	var configFile, pprofAddr string
	root := &cobra.Command{
		Use:           "fanoutd",
		Short:         "Real-time fan-out daemon: WebSockets out, local publishes in",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			load := func() (config.Config, error) { return loadConfig(configFile, cmd.Flags()) }
			cfg, err := load()
			if err != nil {
				return err
			}
			return runDaemon(cmd.Context(), cfg, load, pprofAddr, cmd.OutOrStdout())
		},
	}
	root.Flags().StringVarP(&configFile, "config", "c", "", "YAML configuration file")
	root.Flags().StringVar(&pprofAddr, "pprof", "", "serve Go's profiler on this loopback address (e.g. 127.0.0.1:6060)")
	config.RegisterFlags(root.Flags())
	root.AddCommand(newPublishCmd(), newCheckConfigCmd(), newTokenCmd(), newCtlCmd())
	return root
}

func loadConfig(file string, fs *pflag.FlagSet) (config.Config, error) {
	return config.Load(config.Source{File: file, Flags: fs})
}
