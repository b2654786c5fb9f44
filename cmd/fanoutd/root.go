package main

import (
	"github.com/fanoutd/fanoutd/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd() *cobra.Command {
	var configFile, pprofAddr string
	root := &cobra.Command{
		Use:   "fanoutd",
		Short: "Real-time fan-out daemon: WebSockets out, local publishes in",
		Long: "fanoutd holds browsers' WebSocket connections, authenticated with a JWT, and fans out the events " +
			"that local applications publish over its Unix socket (or HTTP) to every subscriber of the channel.\n\n" +
			"The configuration is, in increasing precedence: built-in defaults, the YAML file (--config), " +
			"FANOUTD_<KEY> environment variables (auth.hmac_secret is FANOUTD_AUTH_HMAC_SECRET) and the flags " +
			"below. Every key and its default: /usr/share/doc/fanoutd/examples/fanoutd.yaml in the packages, " +
			"config/testdata/full.yaml in the source. --dev runs with a random secret and prints a dev token.",
		Version:       currentBuild().Version,
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
	root.SetVersionTemplate("{{ .Annotations.build }}")
	root.Annotations = map[string]string{"build": currentBuild().String()}
	root.AddCommand(newPublishCmd(), newCheckConfigCmd(), newTokenCmd(), newVersionCmd(), newGenCmd(), newCtlCmd(), newUpgradeCmd())
	return root
}

func loadConfig(file string, fs *pflag.FlagSet) (config.Config, error) {
	return config.Load(config.Source{File: file, Flags: fs})
}
