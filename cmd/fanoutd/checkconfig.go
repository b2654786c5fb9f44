package main

import (
	"fmt"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/config"

	"github.com/spf13/cobra"
)

func newCheckConfigCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "check-config",
		Short: "Validate a configuration (file, environment and flags) and exit",
		Long: "Loads the configuration exactly as the daemon would and reports every problem, " +
			"naming the key. Exits non-zero when the configuration is not valid.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Warnings, not errors: the process may inherit variables
			// meant for other tools, and Load ignores them.
			for _, w := range config.UnknownEnvironment(nil) {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			cfg, err := loadConfig(file, cmd.Flags())
			if err != nil {
				return fmt.Errorf("configuration is not valid:\n%w", err)
			}
			if err := fanoutd.Check(cfg); err != nil {
				return fmt.Errorf("configuration is not valid:\n%w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "configuration OK")
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "YAML configuration file")
	// The daemon's own flags, so that a command line is checked whole
	// (the error without a secret suggests --dev).
	config.RegisterFlags(cmd.Flags())
	return cmd
}
