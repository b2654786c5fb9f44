package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/spf13/cobra"
)

func newTokenCmd() *cobra.Command {
	var file, sub, channels string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a test token signed with the configured HMAC secret",
		Long: "Prints an HS256 token for --sub allowed on --channels (comma-separated patterns). " +
			"For development and smoke tests: production tokens come from your application.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(file, cmd.Flags())
			if err != nil {
				return err
			}
			key, err := cfg.HMACKey()
			if err != nil {
				return err
			}
			tok, err := jwtauth.Mint(key, sub, strings.Split(channels, ","), ttl, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "config", "c", "", "YAML configuration file")
	f.StringVar(&sub, "sub", "dev", "the token's subject")
	f.StringVar(&channels, "channels", "*", "comma-separated channel patterns")
	f.DurationVar(&ttl, "ttl", time.Hour, "validity")
	return cmd
}
