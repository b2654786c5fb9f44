package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/control"
	"github.com/spf13/cobra"
)

// upgradePoll is how often `fanoutd upgrade` asks which process serves.
const upgradePoll = 100 * time.Millisecond

// errUpgradeFailed is what `fanoutd upgrade` returns when the daemon
// reported a failed hand-off (it serves on).
var errUpgradeFailed = errors.New("upgrade failed: the running daemon serves on")

func newUpgradeCmd() *cobra.Command {
	c := &ctl{}
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Replace the running daemon with the binary on disk, keeping every connection",
		Long: "upgrade asks the daemon on the local socket (found as ctl finds it) to start the fanoutd binary now on " +
			"disk, with the same arguments, and hand it every WebSocket, the listeners and the state behind them " +
			"(SIGUSR2 does the same). No client is closed, publishes wait in the socket's backlog meanwhile. It waits " +
			"until the new process serves and prints its pid and the pause; if the new binary fails to start or " +
			"refuses the hand-off, the old process serves on, and upgrade says why and exits 1. Under systemd, " +
			"`systemctl restart fanoutd` does the same through the service manager's descriptor store.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.client(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return upgrade(ctx, cl, func(pid int) error { return syscall.Kill(pid, syscall.SIGUSR2) }, cmd)
		},
	}
	cmd.Flags().StringVarP(&c.configFile, "config", "c", "", "configuration file to read the socket path from")
	cmd.Flags().String("socket", "", "the daemon's Unix socket (overrides the configuration)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the new process")
	return cmd
}

// upgrade signals the daemon serving cl's socket and follows its stats
// until another process serves there, or the daemon reports the attempt
// failed.
func upgrade(ctx context.Context, cl *control.Client, signal func(pid int) error, cmd *cobra.Command) error {
	var before fanoutd.Stats
	if err := cl.Call(ctx, "GET", "/v1/stats", nil, &before); err != nil {
		return err
	}
	asked := time.Now()
	if err := signal(before.PID); err != nil {
		return fmt.Errorf("signal the daemon (pid %d): %w", before.PID, err)
	}
	t := time.NewTicker(upgradePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from the new process: %w", ctx.Err())
		case <-t.C:
		}
		var now fanoutd.Stats
		if err := cl.Call(ctx, "GET", "/v1/stats", nil, &now); err != nil {
			continue // the socket changes hands: ask again
		}
		h := now.HandOff
		switch {
		case now.PID != before.PID:
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "upgraded: pid %d -> pid %d, %d connections kept, pause %.1f ms\n",
				before.PID, now.PID, h.Connections, h.PauseMS)
			return err
		case h.LastError != "" && h.At.After(asked):
			return fmt.Errorf("%w: %s", errUpgradeFailed, h.LastError)
		}
	}
}
